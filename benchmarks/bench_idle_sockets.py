"""Issue 22 finding 4, measured: ten idle sockets against a region's inference service
(started as ``make run`` starts it), without the token and with it for one call, and how
long until the service holds none of them.

    python -m benchmarks.bench_idle_sockets [--sockets 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import aiohttp

from inference.config import region_config

REGION = "us"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _health(url: str, token: str) -> dict[str, object]:
    request = urllib.request.Request(  # noqa: S310 - loopback URL built here
        url + "/healthz", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
        result: dict[str, object] = json.load(response)
        return result


async def _flood(url: str, count: int, headers: dict[str, str]) -> tuple[int, dict[int, int]]:
    """Open ``count`` sockets (each sends ``start`` when admitted); return how many were
    admitted and the refusals by HTTP status. The admitted ones stay open, idle."""
    session = aiohttp.ClientSession()
    admitted: list[aiohttp.ClientWebSocketResponse] = []
    refused: dict[int, int] = {}
    for _ in range(count):
        try:
            ws = await session.ws_connect(url + "/asr", headers=headers)
        except aiohttp.WSServerHandshakeError as exc:
            refused[exc.status] = refused.get(exc.status, 0) + 1
            continue
        await ws.send_json({"type": "start", "model": "tiny.en"})
        admitted.append(ws)
    _FLOOD.append((session, admitted))
    return len(admitted), refused


_FLOOD: list[tuple[aiohttp.ClientSession, list[aiohttp.ClientWebSocketResponse]]] = []


async def run(count: int) -> None:
    token = region_config(REGION).inference_token
    port = _free_port()
    env = {**os.environ, "INFERENCE_ASR_MODELS": "tiny.en"}
    server = subprocess.Popen(  # noqa: ASYNC220 - started once, before any socket
        [sys.executable, "-m", "inference", "serve", "--region", REGION, "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        while True:
            try:
                _health(url, token)
                break
            except (OSError, urllib.error.URLError):
                if server.poll() is not None:
                    raise SystemExit("the service did not start") from None
                await asyncio.sleep(0.5)
        admitted, refused = await _flood(url, count, {})
        print(f"without the token: {admitted} of {count} admitted, refused {refused}")
        headers = {
            "Authorization": f"Bearer {token}",
            "X-Callseal-Tenant": "bench-tenant",
            "X-Callseal-Call": "bench-call",
        }
        started = time.monotonic()
        admitted, refused = await _flood(url, count, headers)
        print(f"with the token, one call: {admitted} of {count} admitted, refused {refused}")
        while True:
            sockets = _health(url, token)["sockets"]
            assert isinstance(sockets, dict)
            if sockets["open"] == 0:
                break
            await asyncio.sleep(0.1)
        print(f"all idle sockets closed by the service after {time.monotonic() - started:.1f} s")
    finally:
        for session, sockets in _FLOOD:
            for ws in sockets:
                await ws.close()
            await session.close()
        server.terminate()
        server.wait(timeout=30)


def main(argv: list[str] | None = None) -> int:
    """`python -m benchmarks idle_sockets` (and `make bench`) runs it with the defaults."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_idle_sockets")
    parser.add_argument("--sockets", type=int, default=10)
    sockets = parser.parse_args(argv or []).sockets
    if not 1 <= sockets <= 1000:
        parser.error("--sockets: between 1 and 1000")
    asyncio.run(run(sockets))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

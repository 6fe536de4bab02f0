"""Reference: a bare ASGI echo of 50 Twilio-sized messages/s per connection on one core,
served by daphne (what Callseal's media plane runs on) and by uvicorn with ``websockets``
(the server Pipecat's transport uses), in the same run.

No Django, no Channels, no pipeline: how many connections the server itself carries with
added p99 echo lag under 20 ms (the criterion of bench_telephony), the server pinned to
CPU 0 and this load generator to CPU 1. Callseal's echo call also echoes one mark per
200 ms each way, so a call is ~1.1 messages per frame each way: this is the ceiling any
consumer on that server can reach.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
import time

import numpy as np

from benchmarks.bench_telephony import (
    CLIENT_CPU,
    LAG_BUDGET_MS,
    ROOT,
    SERVER_CPU,
    _free_port,
    _pinned,
    _process_cpu_s,
    _wait_http,
)

STEPS = [1, 10, 20, 30, 40, 50, 75, 100, 150, 200, 300, 400]
SECONDS = 3.0
PAYLOAD = base64.b64encode(bytes(160)).decode()


async def _conn(port: int, lags: list[float], delay: float) -> None:
    from websockets.asyncio.client import connect

    await asyncio.sleep(delay)
    async with connect(f"ws://127.0.0.1:{port}/", compression=None, ping_interval=None) as ws:
        sent: dict[str, float] = {}

        async def rx() -> None:
            async for raw in ws:
                seq = json.loads(raw)["sequenceNumber"]
                lags.append((time.monotonic() - sent.pop(seq)) * 1000)

        task = asyncio.create_task(rx())
        t0 = time.monotonic()
        for k in range(int(SECONDS * 50)):
            await asyncio.sleep(max(0.0, t0 + k * 0.02 - time.monotonic()))
            seq = str(k)
            sent[seq] = time.monotonic()
            await ws.send(
                json.dumps({"event": "media", "sequenceNumber": seq, "media": {"payload": PAYLOAD}})
            )
        await asyncio.sleep(0.5)
        task.cancel()


def _load(port: int, n: int) -> float:
    lags: list[float] = []

    async def run() -> None:
        await asyncio.gather(*(_conn(port, lags, i / n) for i in range(n)))

    asyncio.run(run())
    return float(np.percentile(lags, 99))


SERVERS = {
    "daphne": ["-m", "daphne", "-p", "{port}", "benchmarks.raw_echo_app:application"],
    "uvicorn": [
        "-m", "uvicorn", "--port", "{port}", "--ws", "websockets", "--log-level", "warning",
        "benchmarks.raw_echo_app:application",
    ],
}  # fmt: skip


def _ceiling(name: str) -> int:
    port = _free_port()
    argv = [sys.executable, *(a.replace("{port}", str(port)) for a in SERVERS[name])]
    server = subprocess.Popen(
        _pinned(SERVER_CPU, argv), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        _wait_http(f"http://127.0.0.1:{port}/")
        base = _load(port, 1)
        best = 0
        for n in STEPS[1:]:
            cpu_s, started = _process_cpu_s(server.pid), time.monotonic()
            added = _load(port, n) - base
            share = (_process_cpu_s(server.pid) - cpu_s) / (time.monotonic() - started)
            ok = added < LAG_BUDGET_MS
            print(
                f"  bare {name} N={n}: added p99 {added:.1f} ms, server CPU {share:.0%} of its "
                f"core over the step (ramp and tail included) -> {'pass' if ok else 'FAIL'}"
            )
            if not ok:
                break
            best = n
    finally:
        server.terminate()
        server.wait(timeout=10)
    print(f"bare {name} echo: {best} connections per core at 50 msg/s each", flush=True)
    return best


def main() -> int:
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > int(CLIENT_CPU):
        os.sched_setaffinity(0, {int(CLIENT_CPU)})
    results = {name: _ceiling(name) for name in SERVERS}
    if results["uvicorn"]:
        print(f"ratio bare daphne / bare uvicorn: {results['daphne'] / results['uvicorn']:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

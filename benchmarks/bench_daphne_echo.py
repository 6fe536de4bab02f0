"""Reference: bare daphne echoing 50 Twilio-sized messages/s per connection on one core.

No Django, no Channels, no pipeline: how many connections daphne/autobahn itself carries
with added p99 echo lag under 20 ms (the criterion of bench_telephony). Callseal's echo
call also echoes one mark per 200 ms each way, so a call is ~1.1 messages per frame each way.
"""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
import time

import numpy as np

from benchmarks.bench_telephony import (
    LAG_BUDGET_MS,
    ROOT,
    SERVER_CPU,
    _free_port,
    _pinned,
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


def main() -> int:
    port = _free_port()
    server = subprocess.Popen(
        _pinned(SERVER_CPU, [sys.executable, "-m", "daphne", "-p", str(port),
                             "benchmarks.raw_echo_app:application"]),
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_http(f"http://127.0.0.1:{port}/")
        base = _load(port, 1)
        best = 0
        for n in STEPS[1:]:
            added = _load(port, n) - base
            ok = added < LAG_BUDGET_MS
            print(f"  bare daphne N={n}: added p99 {added:.1f} ms -> {'pass' if ok else 'FAIL'}")
            if not ok:
                break
            best = n
        print(f"bare daphne echo: {best} connections per core at 50 msg/s each")
    finally:
        server.terminate()
        server.wait(timeout=10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Does one flooding media stream starve the other calls? (issue 22 finding 3)

A real daphne (embedded mode, demo data) serves one ordinary echo call of
``VICTIM_S`` seconds, alone and then beside ``FLOODERS`` streams that each authenticate like
Twilio (signed webhook, token, signed handshake) and then send valid media frames as fast as
the socket takes them. Reported: the victim's echo lag (p50/p95/p99, ms), and per flooder
how it ended (close code, messages sent, seconds until closed). Before the per-stream rate
limit, two flooders raised the victim's p95 from 5 to 164 ms and were never closed.

Server on CPU 0, the victim's client on CPU 1, the flooders in their own process on CPU 1.
"""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
import time
import uuid
from typing import Any
from xml.etree import ElementTree

from benchmarks.bench_telephony import CLIENT_CPU, ROOT, _free_port, _our_server, _pinned

VICTIM_S = 6.0
FLOODERS = 2
FLOOD_LIMIT_S = 8.0


async def _flood(base_url: str, account: dict[str, str]) -> dict[str, Any]:
    import websockets
    from twilio.request_validator import RequestValidator

    from calls.simulator import _post_signed

    sid = "CA" + uuid.uuid4().hex
    params = {
        "AccountSid": account["account_sid"],
        "CallSid": sid,
        "From": "+15005550006",
        "To": account["number"],
        "CallStatus": "ringing",
        "Direction": "inbound",
    }
    _, twiml = await asyncio.to_thread(
        _post_signed, f"{base_url}/twilio/voice", params, account["auth_token"]
    )
    stream = ElementTree.fromstring(twiml).find("Connect/Stream")  # noqa: S314 - our server
    assert stream is not None
    url = stream.get("url", "")
    token = stream.find("Parameter").get("value", "")  # type: ignore[union-attr]
    signature = RequestValidator(account["auth_token"]).compute_signature(url, {})
    payload = base64.b64encode(b"\xff" * 160).decode()
    sent, started = 0, time.monotonic()
    async with websockets.connect(url, additional_headers={"X-Twilio-Signature": signature}) as ws:
        start = {
            "event": "start",
            "sequenceNumber": "1",
            "streamSid": "MZ" + "0" * 32,
            "start": {
                "accountSid": account["account_sid"],
                "streamSid": "MZ" + "0" * 32,
                "callSid": sid,
                "tracks": ["inbound"],
                "customParameters": {"token": token},
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            },
        }
        await ws.send(json.dumps(start))
        try:
            while time.monotonic() - started < FLOOD_LIMIT_S:
                sent += 1
                await ws.send(
                    json.dumps(
                        {
                            "event": "media",
                            "sequenceNumber": str(sent + 1),
                            "streamSid": "MZ" + "0" * 32,
                            "media": {
                                "track": "inbound",
                                "chunk": str(sent),
                                "timestamp": str(sent * 20),
                                "payload": payload,
                            },
                        }
                    )
                )
            code: int | str | None = None
        except websockets.ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd else f"no close frame ({exc})"
    return {"close_code": code, "sent": sent, "open_s": round(time.monotonic() - started, 2)}


def _flooders_main(base_url: str, account_json: str, count: int) -> None:
    account = json.loads(account_json)

    async def run() -> list[dict[str, Any]]:
        return list(await asyncio.gather(*[_flood(base_url, account) for _ in range(count)]))

    print(json.dumps(asyncio.run(run())))


def _victim(base_url: str, account: dict[str, str]) -> dict[str, Any]:
    from calls.simulator import Account, run_call, summarise, synthetic_speech

    acct = Account(base_url, account["number"], account["account_sid"], account["auth_token"])
    report = asyncio.run(run_call(acct, synthetic_speech(int(VICTIM_S * 1000))))
    summary = summarise([report])
    return {"failed": summary["failed"], "echo_lag_ms": summary["echo_lag_ms"]}


def main() -> int:
    port = _free_port()
    server, account = _our_server(port)
    base_url = f"http://127.0.0.1:{port}"
    try:
        _victim(base_url, account)  # warm-up: the first call loads what every call uses
        alone = _victim(base_url, account)
        flooders = subprocess.Popen(
            _pinned(
                CLIENT_CPU,
                [
                    sys.executable,
                    "-m",
                    "benchmarks.bench_stream_flood",
                    "--flood",
                    base_url,
                    json.dumps(account),
                    str(FLOODERS),
                ],
            ),
            cwd=ROOT,
            stdout=subprocess.PIPE,
        )
        time.sleep(0.5)
        beside = _victim(base_url, account)
        out, _ = flooders.communicate(timeout=60)
    finally:
        server.terminate()
        server.wait(timeout=10)
    floods = json.loads(out or b"[]")
    print(f"  victim alone:             echo lag {alone['echo_lag_ms']} (failed {alone['failed']})")
    print(
        f"  victim beside {FLOODERS} flooders: echo lag {beside['echo_lag_ms']}"
        f" (failed {beside['failed']})"
    )
    for i, flood in enumerate(floods, 1):
        print(
            f"  flooder {i}: closed with {flood['close_code']} after {flood['sent']} messages,"
            f" {flood['open_s']} s"
        )
    # A flooder blocked in send may see the connection end before it reads the 1008 frame.
    closed = all(f["close_code"] is not None for f in floods)
    return 0 if closed and beside["failed"] == 0 else 1


if __name__ == "__main__":
    if sys.argv[1:2] == ["--flood"]:
        import os

        import django

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "callseal.settings")
        django.setup()
        _flooders_main(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        import os

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "callseal.settings")
        sys.exit(main())

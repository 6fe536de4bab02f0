"""Load generator process for bench_telephony: N simulated Twilio calls, summary as JSON."""

from __future__ import annotations

import argparse
import asyncio
import json
import time

from calls.simulator import Account, run_calls, summarise, synthetic_speech

ALL_CONNECTED_SETTLE_S = 1.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--number", required=True)
    parser.add_argument("--account-sid", required=True)
    parser.add_argument("--auth-token", required=True)
    parser.add_argument("--calls", type=int, required=True)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--ramp-s", type=float, default=1.0, help="spread the call starts")
    parser.add_argument(
        "--status-callback",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="post Twilio's completed status callback to /twilio/status when a call ends",
    )
    args = parser.parse_args()
    account = Account(
        args.base_url,
        args.number,
        args.account_sid,
        args.auth_token,
        status_callback=args.status_callback,
    )
    audio = synthetic_speech(int(args.seconds * 1000))
    # The last call starts ramp_s after the first; its stream is set up well within a second.
    all_connected_at = time.monotonic() + args.ramp_s + ALL_CONNECTED_SETTLE_S
    reports = asyncio.run(run_calls(account, [audio], calls=args.calls, ramp_s=args.ramp_s))
    print(json.dumps(summarise(reports, all_connected_at=all_connected_at)))


if __name__ == "__main__":
    main()

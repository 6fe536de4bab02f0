"""Place simulated Twilio calls against a running server (see calls.simulator)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from calls.models import PhoneNumber
from calls.services import phone_number_auth_token
from calls.simulator import (
    Account,
    WavError,
    load_wav,
    report_dict,
    run_calls,
    summarise,
    synthetic_speech,
)
from callseal.tenancy.selectors import TenantNotFound, tenant_get_by_slug


class Command(BaseCommand):
    help = "Place N simulated, Twilio-signed calls to a tenant's number and report latencies."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True, help="tenant slug")
        parser.add_argument("--calls", type=int, default=1)
        parser.add_argument("--audio", type=Path, nargs="*", default=[], help="16-bit WAV files")
        parser.add_argument("--dtmf", default="", help="digits to press mid-call")
        parser.add_argument("--barge-in", action="store_true", help="speak over the agent")
        parser.add_argument("--json", action="store_true", help="print JSON")
        parser.add_argument("--base-url", default=settings.PUBLIC_BASE_URL)
        parser.add_argument("--number", default="", help="E.164 number (default: the first)")
        parser.add_argument("--ramp", type=float, default=1.0, help="seconds to spread starts")

    def handle(self, *args: Any, **options: Any) -> None:
        if not 1 <= options["calls"] <= 5000:
            raise CommandError("--calls: between 1 and 5000")
        if options["dtmf"] and not set(options["dtmf"]) <= set("0123456789*#"):
            raise CommandError("--dtmf: digits 0-9, * and # only")
        try:
            audios = [load_wav(path) for path in options["audio"]] or [synthetic_speech()]
        except WavError as exc:
            raise CommandError(str(exc)) from None
        try:
            tenant = tenant_get_by_slug(slug=options["tenant"])
        except TenantNotFound as exc:
            raise CommandError(str(exc)) from None
        numbers = PhoneNumber.objects.filter(tenant=tenant).exclude(twilio_auth_token_sealed="")
        if options["number"]:
            numbers = numbers.filter(e164=options["number"])
        number = numbers.first()
        if number is None:
            raise CommandError(f"{tenant.slug} has no number with Twilio credentials")
        account = Account(
            base_url=options["base_url"].rstrip("/"),
            number=number.e164,
            account_sid=number.twilio_account_sid,
            auth_token=phone_number_auth_token(number),
        )
        reports = asyncio.run(
            run_calls(
                account,
                audios,
                calls=options["calls"],
                dtmf=options["dtmf"],
                barge_in=options["barge_in"],
                ramp_s=options["ramp"],
            )
        )
        summary = summarise(reports)
        if options["json"]:
            self.stdout.write(
                json.dumps({"summary": summary, "calls": [report_dict(r) for r in reports]})
            )
            return
        for report in reports:
            line = report.error or (
                f"sent {report.frames_sent} received {report.frames_received} "
                f"lost {report.frames_lost} marks {report.marks_echoed}/{report.marks_received}"
            )
            self.stdout.write(f"{report.call_sid}: {line}")
        self.stdout.write(json.dumps(summary, indent=2))

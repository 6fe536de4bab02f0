"""Place simulated Twilio calls against a running server (see calls.simulator); with
``--script``, scripted conversations with the number's AI agent (calls.conversations)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from calls.conversations import ConversationResult, conversation_run, conversations_summary
from calls.models import E164, PhoneNumber
from calls.scripts import Scenario, ScriptError, script_load
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
        parser.add_argument(
            "--script",
            type=Path,
            help="scripted conversations with the number's AI agent (test-suite JSON)",
        )
        parser.add_argument(
            "--caller", default="+15005550006", help="the caller's E.164 number (From)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not 1 <= options["calls"] <= 5000:
            raise CommandError("--calls: between 1 and 5000")
        if options["dtmf"] and not set(options["dtmf"]) <= set("0123456789*#"):
            raise CommandError("--dtmf: digits 0-9, * and # only")
        try:
            E164(options["caller"])
        except ValidationError:
            raise CommandError("--caller: an E.164 number such as +14155550123") from None
        if options["script"] is not None:
            self._scripted(options)
            return
        try:
            audios = [load_wav(path) for path in options["audio"]] or [synthetic_speech()]
        except WavError as exc:
            raise CommandError(str(exc)) from None
        try:
            tenant = tenant_get_by_slug(slug=options["tenant"])
        except TenantNotFound as exc:
            raise CommandError(str(exc)) from None
        number = _number(tenant, options["number"])
        account = _account(number, options["base_url"])
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

    def _scripted(self, options: dict[str, Any]) -> None:
        for flag in ("audio", "dtmf", "barge_in"):
            if options[flag]:
                raise CommandError(f"--{flag.replace('_', '-')}: not with --script")
        if options["calls"] != 1:
            raise CommandError("--calls: not with --script (each scenario is one call)")
        try:
            scenarios = script_load(options["script"])
        except ScriptError as exc:
            raise CommandError(str(exc)) from None
        try:
            tenant = tenant_get_by_slug(slug=options["tenant"])
        except TenantNotFound as exc:
            raise CommandError(str(exc)) from None
        number = _number(tenant, options["number"])
        if number.agent_id is None:
            raise CommandError(
                f"{number.e164} has no AI agent to talk to: attach one (Settings → Phone "
                "numbers) or run seed_demo"
            )
        account = _account(number, options["base_url"])
        results = []
        for scenario in scenarios:
            result = conversation_run(
                account=account, phone_number=number, scenario=scenario, caller=options["caller"]
            )
            results.append(result)
            if not options["json"]:
                self._print_conversation(scenario, result)
        summary = conversations_summary(results)
        if options["json"]:
            self.stdout.write(
                json.dumps({"summary": summary, "calls": [r.as_dict() for r in results]})
            )
            return
        v2v = summary["voice_to_voice_ms"]
        figures = f"p50 {v2v['p50']:.0f} ms, max {v2v['max']:.0f} ms" if v2v["p50"] else "—"
        self.stdout.write(
            f"{summary['calls']} calls ({summary['failed']} failed), {summary['turns']} turns "
            f"({summary['unanswered_turns']} unanswered); voice-to-voice {figures}"
        )

    def _print_conversation(self, scenario: Scenario, result: ConversationResult) -> None:
        self.stdout.write(f"{scenario.name}: call {result.call_sid}")
        if result.error and not result.greeting:  # the call never reached the agent
            self.stdout.write(f"  error: {result.error}")
            return
        if result.greeting:
            self.stdout.write(f"  agent:  {result.greeting}")
        if result.consent_keys:
            self.stdout.write(f"  caller: [presses {result.consent_keys}: yes to recording]")
            self.stdout.write(f"  agent:  {result.consent_heard or '(nothing)'}")
        for turn in result.turns:
            keys = f" [presses {turn.dtmf}]" if turn.dtmf else ""
            self.stdout.write(f"  caller: {turn.said}{keys}")
            if turn.recognised:
                self.stdout.write(f"          (recognised: {turn.recognised})")
            v2v = "—" if turn.voice_to_voice_ms is None else f"{turn.voice_to_voice_ms:.0f} ms"
            late = ", caller stopped waiting" if turn.wait_timed_out else ""
            self.stdout.write(f"  agent:  {turn.heard or '(nothing)'}   [v2v {v2v}{late}]")
        if result.error:
            self.stdout.write(f"  error: {result.error}")


def _number(tenant: Any, e164: str) -> PhoneNumber:
    numbers = PhoneNumber.objects.filter(tenant=tenant).exclude(twilio_auth_token_sealed="")
    if e164:
        numbers = numbers.filter(e164=e164)
    number = numbers.order_by("e164").first()
    if number is None:
        raise CommandError(f"{tenant.slug} has no number with Twilio credentials")
    return number


def _account(number: PhoneNumber, base_url: str) -> Account:
    return Account(
        base_url=base_url.rstrip("/"),
        number=number.e164,
        account_sid=number.twilio_account_sid,
        auth_token=phone_number_auth_token(number),
    )

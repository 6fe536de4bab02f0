"""Write a signed audit bundle for a tenant, with a progress bar.

    python manage.py audit_export --tenant SLUG [--from ISO] [--to ISO] [--call ID]
        [--subject PHONE] [--type TYPE ...] [--actor ACTOR] [--readable] --out FILE.zip

Prints the bundle's SHA-256 and the signing key's fingerprint: hand the fingerprint to the
auditor by another channel, so ``verify.py --fingerprint`` pins the key.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from callseal.tenancy.context import tenant_context
from callseal.tenancy.models import Tenant
from compliance.audit.export import ExportError
from compliance.audit.filters import FilterError, filter_parse
from compliance.audit.services import audit_export_cli


class Command(BaseCommand):
    help = "Export a tenant's audit trail as a signed, offline-verifiable bundle."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True, help="tenant slug")
        parser.add_argument("--from", dest="start", help="ISO 8601 start (inclusive)")
        parser.add_argument("--to", dest="end", help="ISO 8601 end (exclusive)")
        parser.add_argument("--call", help="a call id (its stream call-<id>) or a stream id")
        parser.add_argument("--subject", help="a data subject's phone number (E.164)")
        parser.add_argument("--type", action="append", dest="types", help="event type")
        parser.add_argument(
            "--actor", help="only events by this actor: a member's username, or as recorded"
        )
        parser.add_argument(
            "--readable", action="store_true", help="render personal fields decrypted+redacted"
        )
        parser.add_argument("--out", required=True, help="the .zip to write")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        out = Path(options["out"])
        if out.suffix != ".zip":
            raise CommandError("--out must name a .zip file")
        if out.exists():
            raise CommandError(f"{out} exists; refusing to overwrite")
        tenant = Tenant.objects.filter(slug=options["tenant"]).first()
        if tenant is None:
            raise CommandError(f"no tenant with slug {options['tenant']!r}")
        bars: dict[str, tqdm] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if options["no_progress"]:
                return
            bar = bars.get(stage)
            if bar is None:
                bar = bars[stage] = tqdm(desc=stage, total=total or None, unit="ev", leave=True)
            bar.total = total or bar.total
            bar.update(done - bar.n)

        started = time.perf_counter()
        with tenant_context(tenant):
            try:
                audit_filter = filter_parse(
                    start=options["start"],
                    end=options["end"],
                    call=options["call"],
                    types=options["types"],
                    actor=options["actor"],
                    subject_phone=options["subject"],
                )
                result = audit_export_cli(
                    audit_filter=audit_filter,
                    out=out,
                    readable=options["readable"],
                    progress=progress,
                )
            except (FilterError, ExportError) as exc:
                raise CommandError(str(exc)) from exc
            finally:
                for bar in bars.values():
                    bar.close()
        self.stdout.write(
            f"audit_export: wrote {out} ({result.events} events, {result.erasures} erasures,"
            f" tree size {result.tree_size}, {time.perf_counter() - started:.1f}s)\n"
            f"  bundle sha256:   {result.bundle_sha256}\n"
            f"  signing key:     {result.verifier_key}\n"
            f"  key fingerprint: {result.key_fingerprint}\n"
            f"  verify with:     python verify.py {out.name} --fingerprint {result.key_fingerprint}"
        )

"""Recompute a tenant's hashes, chain, Merkle tree and checkpoint signatures.

Exit 0 with a one-line summary when intact; exit 1 naming the tenant, the first bad
sequence number and the expected and found hashes otherwise.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from callseal.ledger.verify import verify_tenant
from callseal.tenancy.context import tenant_context
from callseal.tenancy.models import Tenant


class Command(BaseCommand):
    help = "Verify a tenant's ledger end to end (exit 0 when intact, 1 when not)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True, help="tenant slug")

    def handle(self, *args: Any, **options: Any) -> None:
        slug = options["tenant"]
        tenant = Tenant.objects.filter(slug=slug).first()
        if tenant is None:
            raise CommandError(f"no tenant with slug {slug!r}")
        started = time.perf_counter()
        with tenant_context(tenant) as ref:
            report = verify_tenant(ref)
        elapsed = time.perf_counter() - started
        if report.fault is not None:
            self.stderr.write(f"ledger_verify: FAILED: {report.fault.describe(slug)}")
            raise SystemExit(1)
        self.stdout.write(
            f"ledger_verify: OK: tenant {slug} (region {tenant.region}): {report.events} events,"
            f" {report.checkpoints} checkpoints, root {report.root.hex()} ({elapsed:.2f}s)"
        )

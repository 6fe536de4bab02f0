"""Rebuild read models from events: every registered projection, or one, per tenant."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from callseal.ledger import store
from callseal.ledger.projections import projection_rebuild, registered_projections
from callseal.tenancy.context import tenant_context
from callseal.tenancy.models import Tenant


class Command(BaseCommand):
    help = "Rebuild projections' read models from the ledger (all tenants unless --tenant)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", help="tenant slug (default: every tenant)")
        parser.add_argument("--projection", help="projection name (default: all registered)")

    def handle(self, *args: Any, **options: Any) -> None:
        available = registered_projections()
        names = [options["projection"]] if options["projection"] else sorted(available)
        unknown = [n for n in names if n not in available]
        if unknown:
            choices = ", ".join(sorted(available)) or "none registered"
            raise CommandError(f"unknown projection {unknown[0]!r} (choose from {choices})")
        tenants = Tenant.objects.order_by("slug")
        if options["tenant"]:
            tenants = tenants.filter(slug=options["tenant"])
            if not tenants.exists():
                raise CommandError(f"no tenant with slug {options['tenant']!r}")
        for tenant in tenants:
            with tenant_context(tenant) as ref:
                total = store.head(ref).sequence
                for name in names:
                    with tqdm(
                        total=total, desc=f"{tenant.slug} {name}", unit="ev", file=self.stderr
                    ) as bar:
                        applied = projection_rebuild(available[name](), progress=bar.update)
                    self.stdout.write(f"{tenant.slug}: {name}: {applied} events applied")

"""Sign a checkpoint of a tenant's ledger now (the schedule does this every minute)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from callseal.ledger.signing import checkpoint_create
from callseal.tenancy.context import tenant_context
from callseal.tenancy.models import Tenant


class Command(BaseCommand):
    help = "Sign and store a checkpoint of a tenant's ledger, printing the signed note."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True, help="tenant slug")

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = Tenant.objects.filter(slug=options["tenant"]).first()
        if tenant is None:
            raise CommandError(f"no tenant with slug {options['tenant']!r}")
        with tenant_context(tenant):
            checkpoint = checkpoint_create()
        assert checkpoint is not None
        self.stdout.write(checkpoint.signed_note, ending="")

"""``flush`` as the owner role: the application role may not TRUNCATE (tests use this).

On PostgreSQL the ledger's TRUNCATE trigger lets the table owner through; on SQLite the
``maintenance()`` switch does (callseal.db.maintenance)."""

from __future__ import annotations

from typing import Any

from django.core.management.commands.flush import Command as DjangoFlush

from callseal.db.maintenance import maintenance
from callseal.tenancy.roles import as_owner


class Command(DjangoFlush):
    def handle(self, **options: Any) -> None:
        # maintenance(): SQLite flushes with DELETE, which append-only triggers otherwise reject.
        with as_owner([options["database"]]), maintenance():
            super().handle(**options)

"""``flush`` as the owner role: the application role may not TRUNCATE (tests use this)."""

from __future__ import annotations

from typing import Any

from django.core.management.commands.flush import Command as DjangoFlush

from callseal.tenancy.roles import as_owner


class Command(DjangoFlush):
    def handle(self, **options: Any) -> None:
        with as_owner([options["database"]]):
            super().handle(**options)

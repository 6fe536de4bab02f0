"""``migrate`` as the owner role, then grant the application role what it may do."""

from __future__ import annotations

from typing import Any

from django.core.management.commands.migrate import Command as DjangoMigrate

from callseal.tenancy.roles import as_owner, grant_application_role


class Command(DjangoMigrate):
    help = DjangoMigrate.help + " Runs as the owner role and grants the application role."

    def handle(self, *args: Any, **options: Any) -> None:
        alias = options["database"]
        with as_owner([alias]):
            super().handle(*args, **options)
            grant_application_role(alias)

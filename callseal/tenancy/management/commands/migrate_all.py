"""Migrate the directory and every region database."""

from __future__ import annotations

from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connections


class Command(BaseCommand):
    help = "Apply migrations to the directory database and to each region's database."

    def handle(self, *args: Any, **options: Any) -> None:
        for alias in connections:
            self.stdout.write(f"Migrating {alias}")
            call_command(
                "migrate",
                database=alias,
                interactive=False,
                verbosity=max(0, options["verbosity"] - 1),
            )

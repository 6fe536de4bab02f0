"""Tampering with stored events the way an attacker with database access would."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.core.management import call_command
from django.db import connections

from callseal.tenancy.context import tenant_context
from callseal.tenancy.roles import as_owner

SQLITE_TRIGGERS = {
    "ledger_event_no_update": "CREATE TRIGGER ledger_event_no_update BEFORE UPDATE ON"
    " ledger_event BEGIN SELECT RAISE(ABORT, 'append-only: UPDATE on ledger_event rejected');"
    " END",
    "ledger_event_no_delete": "CREATE TRIGGER ledger_event_no_delete BEFORE DELETE ON"
    " ledger_event WHEN NOT callseal_maintenance() BEGIN SELECT RAISE(ABORT,"
    " 'append-only: DELETE on ledger_event rejected'); END",
    "ledger_checkpoint_no_update": "CREATE TRIGGER ledger_checkpoint_no_update BEFORE UPDATE"
    " ON ledger_checkpoint BEGIN SELECT RAISE(ABORT, 'append-only'); END",
}


@contextmanager
def tampering(tenant: Any, alias: str = "region_us") -> Iterator[Any]:
    """A cursor that may rewrite ledger rows: owner role, triggers off (PG) / dropped."""
    with tenant_context(tenant), as_owner([alias]):
        conn = connections[alias]
        with conn.cursor() as cursor:
            if conn.vendor == "postgresql":
                for table in ("ledger_event", "ledger_checkpoint"):
                    cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
                try:
                    yield cursor
                finally:
                    for table in ("ledger_event", "ledger_checkpoint"):
                        cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
            else:
                for name in SQLITE_TRIGGERS:
                    cursor.execute(f"DROP TRIGGER {name}")
                try:
                    yield cursor
                finally:
                    for sql in SQLITE_TRIGGERS.values():
                        cursor.execute(sql)


def run_verify(slug: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("ledger_verify", tenant=slug, stdout=out, stderr=err)
    except SystemExit as exc:
        return int(exc.code or 0), out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()

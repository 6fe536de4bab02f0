"""Test-database maintenance switch for append-only tables on SQLite.

SQLite has no roles, and Django's ``flush`` empties SQLite tables with DELETE, which the
ledger's triggers reject. The triggers call the connection function ``callseal_maintenance()``
(registered on every Django SQLite connection); it answers 1 only inside ``maintenance()``,
which ``manage.py flush`` enters. Any other client (the sqlite3 shell, another program)
lacks the function, so its DELETE fails too: the guard fails closed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

_allowed: ContextVar[bool] = ContextVar("callseal_maintenance", default=False)
SQL_FUNCTION = "callseal_maintenance"


@contextmanager
def maintenance() -> Iterator[None]:
    token = _allowed.set(True)
    try:
        yield
    finally:
        _allowed.reset(token)


def maintenance_allowed() -> int:
    return int(_allowed.get())


def register_sqlite_function(sender: Any, connection: Any, **kwargs: Any) -> None:
    if connection.vendor == "sqlite":
        connection.connection.create_function(SQL_FUNCTION, 0, maintenance_allowed)

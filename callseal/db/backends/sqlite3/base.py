"""SQLite backend whose database files are private: created 0600 before SQLite opens them
(SQLite gives its -wal and -shm files the database file's mode), and tightened to 0600 when
an earlier version created them 0644 (docs/adr/0012-embedded-stack-hardening.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.db.backends.sqlite3 import base

from callseal.at_rest import private_file_create, private_file_tighten


class DatabaseWrapper(base.DatabaseWrapper):
    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        name = str(conn_params.get("database", ""))
        if name and name != ":memory:" and not name.startswith("file:"):
            path = Path(name)
            private_file_create(path, b"")  # an empty file is an empty SQLite database
            for file in (
                path,
                path.with_name(path.name + "-wal"),
                path.with_name(path.name + "-shm"),
            ):
                private_file_tighten(file)
        return super().get_new_connection(conn_params)

"""PostgreSQL roles: the login role owns the schema; the application role only gets DML.

Runtime connections ``SET ROLE`` to the application role (Django's ``assume_role`` option),
which owns nothing, so forced row-level security always applies to it. Migrations and test
database creation run as the login (owner) role.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.apps import apps
from django.conf import settings
from django.db import connections, router


@contextmanager
def as_owner(aliases: list[str] | None = None) -> Iterator[None]:
    """Connect as the login role (no SET ROLE) for the block, e.g. to migrate."""
    chosen = aliases or list(connections)
    saved: dict[str, object] = {}
    for alias in chosen:
        conn = connections[alias]
        if conn.vendor != "postgresql":
            continue
        options = conn.settings_dict.setdefault("OPTIONS", {})
        if "assume_role" in options:
            saved[alias] = options.pop("assume_role")
            conn.close()
    try:
        yield
    finally:
        for alias, role in saved.items():
            connections[alias].close()
            connections[alias].settings_dict["OPTIONS"]["assume_role"] = role


def grant_application_role(alias: str) -> None:
    """Grant the application role DML on every table this alias holds.

    Append-only models (``append_only = True``) get SELECT and INSERT only, so even a
    compromised application cannot rewrite them; their triggers are the second guard.
    """
    conn = connections[alias]
    role = settings.DB_APP_ROLE
    if conn.vendor != "postgresql" or not role:
        return
    quote = conn.ops.quote_name
    with conn.cursor() as cursor:
        cursor.execute(f"GRANT USAGE ON SCHEMA public TO {quote(role)}")
        cursor.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {quote(role)}")
        for model in apps.get_models(include_auto_created=True):
            if model._meta.proxy or not model._meta.managed:
                continue
            if not router.allow_migrate_model(alias, model):
                continue
            table = quote(model._meta.db_table)
            if getattr(model, "append_only", False):
                cursor.execute(f"REVOKE ALL ON {table} FROM {quote(role)}")
                cursor.execute(f"GRANT SELECT, INSERT ON {table} TO {quote(role)}")
            else:
                cursor.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {quote(role)}")
        # django_migrations is read on start-up checks.
        cursor.execute(f"GRANT SELECT ON django_migrations TO {quote(role)}")

"""Create the PostgreSQL roles and databases Callseal needs (idempotent).

Connects to each configured server as a superuser (POSTGRES_ADMIN_USER, default postgres,
with POSTGRES_ADMIN_PASSWORD if the server wants one) and creates:
the login role named in each database URL (owner of the schema, CREATEDB so tests can make
their databases, never SUPERUSER or BYPASSRLS), the application role it may SET ROLE to,
and one database per URL owned by the login role.
"""

from __future__ import annotations

import os
from typing import Any

import psycopg
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from psycopg import sql
from psycopg.conninfo import make_conninfo


class Command(BaseCommand):
    help = "Create the PostgreSQL roles and databases for the directory and every region."

    def handle(self, *args: Any, **options: Any) -> None:
        targets = [
            (alias, cfg)
            for alias, cfg in settings.DATABASES.items()
            if cfg["ENGINE"].endswith("postgresql")
        ]
        if not targets:
            self.stdout.write("No PostgreSQL databases configured (embedded mode): nothing to do.")
            return
        app_role = settings.DB_APP_ROLE
        for alias, cfg in targets:
            with self._admin(cfg) as admin:
                owner = cfg.get("USER") or ""
                if not owner or owner == "postgres":
                    raise CommandError(
                        f"{alias}: the database URL must name a dedicated login role, "
                        "not a superuser (row-level security does not apply to superusers)"
                    )
                self._role(admin, owner, login=True, password=cfg.get("PASSWORD") or None)
                if app_role:
                    self._role(admin, app_role, login=False, password=None)
                    admin.execute(
                        sql.SQL("GRANT {} TO {}").format(
                            sql.Identifier(app_role), sql.Identifier(owner)
                        )
                    )
                exists = admin.execute(
                    "SELECT 1 FROM pg_database WHERE datname = %s", (cfg["NAME"],)
                ).fetchone()
                if not exists:
                    admin.execute(
                        sql.SQL("CREATE DATABASE {} OWNER {}").format(
                            sql.Identifier(cfg["NAME"]), sql.Identifier(owner)
                        )
                    )
                    self.stdout.write(f"{alias}: created database {cfg['NAME']}")
                else:
                    self.stdout.write(f"{alias}: database {cfg['NAME']} exists")

    def _admin(self, cfg: dict[str, Any]) -> psycopg.Connection[Any]:
        params: dict[str, Any] = {
            "host": cfg.get("HOST") or "127.0.0.1",
            "port": cfg.get("PORT") or 5432,
            "user": os.environ.get("POSTGRES_ADMIN_USER", "postgres"),
            "dbname": "postgres",
        }
        if os.environ.get("POSTGRES_ADMIN_PASSWORD"):
            params["password"] = os.environ["POSTGRES_ADMIN_PASSWORD"]
        try:
            return psycopg.connect(make_conninfo(**params), autocommit=True, connect_timeout=10)
        except psycopg.OperationalError as exc:
            raise CommandError(
                f"POSTGRES_ADMIN_USER: cannot connect to {params['host']}:{params['port']} "
                f"as {params['user']}: {exc}"
            ) from exc

    def _role(
        self, admin: psycopg.Connection[Any], name: str, *, login: bool, password: str | None
    ) -> None:
        exists = admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone()
        attrs = "LOGIN CREATEDB" if login else "NOLOGIN"
        verb = "ALTER" if exists else "CREATE"
        stmt = sql.SQL(verb + " ROLE {} " + attrs + " NOSUPERUSER NOBYPASSRLS").format(
            sql.Identifier(name)
        )
        admin.execute(stmt)
        if password:
            admin.execute(
                sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                    sql.Identifier(name), sql.Literal(password)
                )
            )

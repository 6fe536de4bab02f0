"""Migration operations for regional tables on PostgreSQL."""

from __future__ import annotations

from typing import Any

from django.db import router
from django.db.migrations.operations.base import Operation

TENANT_SETTING = "callseal.tenant_id"
POLICY = "tenant_isolation"


class EnableRowLevelSecurity(Operation):
    """Enable and force row-level security keyed on the transaction-local tenant setting.

    FORCE makes the policy apply to the table owner too, so only a superuser bypasses it.
    A no-op on SQLite, where the router alone keeps tenants apart.
    """

    reversible = True
    reduces_to_sql = True

    def __init__(self, model_name: str) -> None:
        self.model_name = model_name

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        return (self.__class__.__qualname__, [], {"model_name": self.model_name})

    def state_forwards(self, app_label: str, state: Any) -> None:
        pass

    def _table(self, app_label: str, schema_editor: Any, state: Any) -> str | None:
        if schema_editor.connection.vendor != "postgresql":
            return None
        model = state.apps.get_model(app_label, self.model_name)
        if not router.allow_migrate_model(schema_editor.connection.alias, model):
            return None
        return schema_editor.quote_name(model._meta.db_table)

    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        table = self._table(app_label, schema_editor, to_state)
        if table is None:
            return
        expr = f"tenant_id = NULLIF(current_setting('{TENANT_SETTING}', true), '')::uuid"
        schema_editor.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        schema_editor.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        schema_editor.execute(
            f"CREATE POLICY {POLICY} ON {table} USING ({expr}) WITH CHECK ({expr})"
        )

    def database_backwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        table = self._table(app_label, schema_editor, from_state)
        if table is None:
            return
        schema_editor.execute(f"DROP POLICY IF EXISTS {POLICY} ON {table}")
        schema_editor.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        schema_editor.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")

    def describe(self) -> str:
        return f"Enable row-level security on {self.model_name}"

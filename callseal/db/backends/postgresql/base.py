"""PostgreSQL backend that keys row-level security on the current tenant.

Regional tables carry a policy comparing ``tenant_id`` with the transaction-local setting
``callseal.tenant_id``. Before the first statement of each transaction this backend sets it
from the tenant context (empty when there is none, which matches no row). Statements run in
autocommit mode are wrapped in a short transaction so the setting stays transaction-local and
can never leak to the next request on a pooled connection.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.backends.base.base import NO_DB_ALIAS
from django.db.backends.postgresql import base
from django.db.transaction import TransactionManagementError

from callseal.tenancy.context import current_tenant_or_none

SET_TENANT_SQL = "SELECT set_config('callseal.tenant_id', %s, true)"


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Tenant id applied in the open transaction, or None when not applied yet.
        self._rls_applied: str | None = None
        # The "no database" connection (CREATE/DROP DATABASE) touches no tenant rows.
        if self.settings_dict.get("REGIONAL") and self.alias != NO_DB_ALIAS:
            self.execute_wrappers.append(self._with_tenant_setting)

    def _with_tenant_setting(
        self, execute: Any, sql: str, params: Any, many: bool, context: dict[str, Any]
    ) -> Any:
        tenant = current_tenant_or_none()
        wanted = str(tenant.id) if tenant is not None else ""
        if self.in_atomic_block:
            if self._rls_applied != wanted:
                execute(SET_TENANT_SQL, (wanted,), False, context)
                self._rls_applied = wanted
            return execute(sql, params, many, context)
        if not self.get_autocommit():
            # Manual transaction management (e.g. during migrations): apply per statement.
            execute(SET_TENANT_SQL, (wanted,), False, context)
            return execute(sql, params, many, context)
        with transaction.atomic(using=self.alias):
            execute(SET_TENANT_SQL, (wanted,), False, context)
            self._rls_applied = wanted
            return execute(sql, params, many, context)

    def tenant_setting_applied(self, value: str) -> None:
        """Record that a statement of the open transaction set ``callseal.tenant_id`` to
        ``value`` transaction-locally itself (the ledger's append function does, saving a
        round trip), so statements that follow need not set it again."""
        if not self.in_atomic_block:
            raise TransactionManagementError("the tenant setting is transaction-local")
        self._rls_applied = value

    # A transaction's end (or a rolled-back savepoint, which reverts set_config) means the
    # setting must be applied again before the next statement.
    def _commit(self) -> None:
        self._rls_applied = None
        super()._commit()  # type: ignore[misc]

    def _rollback(self) -> None:
        self._rls_applied = None
        super()._rollback()  # type: ignore[misc]

    def _set_autocommit(self, autocommit: bool) -> None:
        self._rls_applied = None
        super()._set_autocommit(autocommit)  # type: ignore[misc]

    def _savepoint_rollback(self, sid: str) -> None:
        self._rls_applied = None
        super()._savepoint_rollback(sid)  # type: ignore[misc]

    def close(self) -> None:
        self._rls_applied = None
        super().close()

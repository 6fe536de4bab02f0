"""The ledger integrity alarm on every console page of the tenant (dashboard and
compliance pages included): the latest scheduled check failed."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from callseal.ledger.integrity import integrity_alarm
from callseal.tenancy.context import current_tenant_or_none


def integrity(request: HttpRequest) -> dict[str, Any]:
    if getattr(request, "membership", None) is None or current_tenant_or_none() is None:
        return {"ledger_integrity_alarm": None}
    return {"ledger_integrity_alarm": integrity_alarm()}

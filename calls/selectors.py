from __future__ import annotations

import uuid

from django.db.models import QuerySet

from calls.models import Call
from callseal.tenancy.context import current_tenant
from callseal.tenancy.selectors import tenant_object_get


def call_list(*, limit: int = 50) -> QuerySet[Call]:
    return Call.objects.filter(tenant_id=current_tenant().id)[:limit]


def call_get(*, call_id: uuid.UUID) -> Call:
    return tenant_object_get(Call, id=call_id)

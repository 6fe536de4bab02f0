from __future__ import annotations

import uuid

from django.db.models import QuerySet

from agents.models import AgentConfig, AgentConfigVersion
from callseal.tenancy.context import current_tenant
from callseal.tenancy.selectors import tenant_object_get


def agent_list() -> QuerySet[AgentConfig]:
    return AgentConfig.objects.filter(tenant_id=current_tenant().id)


def agent_get(*, agent_id: uuid.UUID) -> AgentConfig:
    return tenant_object_get(AgentConfig, id=agent_id)


def agent_versions(*, agent_id: uuid.UUID) -> QuerySet[AgentConfigVersion]:
    return AgentConfigVersion.objects.filter(tenant_id=current_tenant().id, agent_id=agent_id)

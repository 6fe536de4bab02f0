"""Writes of AI agent configuration: every change is an ``agent.configured`` event."""

from __future__ import annotations

import uuid

from agents.catalog import region_offer
from agents.events import AgentConfigured
from agents.models import AgentConfig
from agents.spec import AgentSpec, agent_spec_validate
from callseal.ledger.envelope import record, regional_write
from callseal.tenancy.context import current_tenant
from callseal.tenancy.models import Membership
from callseal.tenancy.permissions import Perm, require
from callseal.tenancy.selectors import tenant_object_get


def actor_of(membership: Membership) -> str:
    return f"user:{membership.user_id}"


def agent_stream(agent_id: uuid.UUID) -> str:
    return f"agent-{agent_id}"


def _record(
    *, actor: Membership, agent_id: uuid.UUID, spec: AgentSpec, expected_version: int
) -> AgentConfig:
    # The envelope applies the agents.config projection (inline) in this transaction.
    with regional_write():
        record(
            stream_id=agent_stream(agent_id),
            events=[
                AgentConfigured(
                    agent_id=str(agent_id), version=expected_version + 1, config=spec.as_dict()
                )
            ],
            expected_version=expected_version,
            actor=actor_of(actor),
        )
        return AgentConfig.objects.get(id=agent_id, tenant_id=current_tenant().id)


def agent_create(*, actor: Membership, spec: AgentSpec) -> AgentConfig:
    """Create an agent at version 1. Raises AgentSpecError (also for a language, voice
    or ASR model the tenant's region does not serve), PermissionDenied."""
    require(actor, Perm.MANAGE_AGENTS)
    agent_spec_validate(spec, offer=region_offer(current_tenant().region))
    return _record(actor=actor, agent_id=uuid.uuid4(), spec=spec, expected_version=0)


def agent_update(
    *, actor: Membership, agent_id: uuid.UUID, spec: AgentSpec, expected_version: int
) -> AgentConfig:
    """Record a new version; a stale ``expected_version`` raises store.ConcurrencyError
    (someone else saved in between), so no edit is silently overwritten."""
    require(actor, Perm.MANAGE_AGENTS)
    agent = tenant_object_get(AgentConfig, id=agent_id)
    agent_spec_validate(spec, offer=region_offer(current_tenant().region))
    return _record(actor=actor, agent_id=agent.id, spec=spec, expected_version=expected_version)

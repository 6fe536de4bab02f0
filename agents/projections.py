"""The agent configuration read models, rebuilt by ``ledger_replay --projection agents.config``."""

from __future__ import annotations

import uuid

from agents.models import AgentConfig, AgentConfigVersion, EscalationEntry
from callseal.ledger.events import RecordedEvent
from callseal.ledger.projections import Projection, register_projection
from callseal.tenancy.context import current_tenant


@register_projection
class AgentConfigProjection(Projection):
    name = "agents.config"
    inline = True
    types = ("agent.configured",)

    def apply(self, event: RecordedEvent) -> None:
        tenant = current_tenant()
        agent_id = uuid.UUID(event.data["agent_id"])
        version = event.data["version"]
        config = event.data["config"]
        actor = event.metadata.get("actor", "")
        AgentConfig.objects.update_or_create(
            id=agent_id,
            tenant_id=tenant.id,
            defaults={
                "name": config["name"],
                "version": version,
                "spec": config,
                "updated_at": event.recorded_at,
                "updated_by": actor,
            },
        )
        AgentConfigVersion.objects.get_or_create(
            tenant_id=tenant.id,
            agent_id=agent_id,
            version=version,
            defaults={
                "spec": config,
                "recorded_at": event.recorded_at,
                "actor": actor,
                "sequence": event.sequence,
            },
        )

    def reset(self) -> None:
        tenant = current_tenant()
        AgentConfigVersion.objects.filter(tenant_id=tenant.id).delete()
        AgentConfig.objects.filter(tenant_id=tenant.id).delete()


@register_projection
class EscalationQueueProjection(Projection):
    """Calls handed to humans, per queue (the human desk's read model)."""

    name = "agents.escalations"
    inline = True
    types = ("call.escalated",)

    def apply(self, event: RecordedEvent) -> None:
        data = event.data
        EscalationEntry.objects.get_or_create(
            tenant_id=current_tenant().id,
            call_id=uuid.UUID(data["call_id"]),
            defaults={
                "queue": data["queue"],
                "reason": data["reason"][:200],
                "summary": data["summary"],
                "transcript": data["transcript"],
                "escalated_at": event.recorded_at,
                "sequence": event.sequence,
            },
        )

    def reset(self) -> None:
        EscalationEntry.objects.filter(tenant_id=current_tenant().id).delete()

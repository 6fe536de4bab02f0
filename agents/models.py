"""Read models of AI agent configuration, projected from ``agent.configured`` events."""

from __future__ import annotations

import uuid
from typing import ClassVar

from django.db import models

from callseal.tenancy.residency import RegionalModel


class AgentConfig(RegionalModel):
    """The current configuration of an agent (the latest ``agent.configured``)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=80)
    version = models.PositiveIntegerField()
    spec = models.JSONField()
    updated_at = models.DateTimeField()
    updated_by = models.CharField(max_length=120)

    class Meta:
        ordering: ClassVar = ["name"]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class AgentConfigVersion(RegionalModel):
    """Every version of every agent, for the history view and for calls to cite."""

    agent_id = models.UUIDField()
    version = models.PositiveIntegerField()
    spec = models.JSONField()
    recorded_at = models.DateTimeField()
    actor = models.CharField(max_length=120)
    sequence = models.BigIntegerField()

    class Meta:
        ordering: ClassVar = ["-version"]
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["tenant_id", "agent_id", "version"], name="agent_version_uniq"
            )
        ]

    def __str__(self) -> str:
        return f"{self.agent_id} v{self.version}"


class EscalationEntry(RegionalModel):
    """A call waiting in a human queue (projected from ``call.escalated``). Holds only
    redacted text: the human desk reads it before taking the call."""

    call_id = models.UUIDField()
    queue = models.CharField(max_length=80)
    reason = models.CharField(max_length=200)
    summary = models.TextField()
    transcript = models.JSONField(default=list)
    escalated_at = models.DateTimeField()
    sequence = models.BigIntegerField()  # the ledger position it came from

    class Meta:
        ordering: ClassVar = ["escalated_at"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["tenant_id", "call_id"], name="escalation_call_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.queue}: {self.call_id}"

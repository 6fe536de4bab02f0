"""Ledger event types of AI agent configuration. No personal data: configs are business text."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from callseal.ledger.registry import register_event


@register_event("agent.configured", version=1)
@dataclass(frozen=True, slots=True)
class AgentConfigured:
    """A full configuration snapshot; ``version`` counts from 1 per agent."""

    agent_id: str
    version: int
    config: dict[str, Any]

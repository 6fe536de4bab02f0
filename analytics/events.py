"""Ledger event types of test calls placed from the console (stream ``test-call-<id>``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from callseal.ledger.registry import register_event


def agent_test_call_stream(test_call_id: object) -> str:
    return f"test-call-{test_call_id}"


@register_event("test_call.requested", version=1)
@dataclass(frozen=True, slots=True)
class AgentTestCallRequested:
    test_call_id: str
    agent_id: str
    agent_version: int
    phone_number: str  # the business's number the simulator calls
    twilio_call_sid: str
    caller_text: str  # a fixed demo sentence, not anyone's personal data


@register_event("test_call.finished", version=1)
@dataclass(frozen=True, slots=True)
class AgentTestCallFinished:
    test_call_id: str
    ok: bool
    report: dict[str, Any]  # the simulator's CallReport figures

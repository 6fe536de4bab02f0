"""Event types used by the ledger tests (registered once, at import)."""

from __future__ import annotations

from dataclasses import dataclass

from callseal.ledger.registry import Personal, register_event


@register_event("test.call_started", version=1)
@dataclass(frozen=True, slots=True)
class CallStarted:
    twilio_call_sid: str
    from_number: Personal[str]
    to_number: str


@register_event("test.note_added", version=1)
@dataclass(frozen=True, slots=True)
class NoteAdded:
    text: str
    count: int = 0
    tags: list[str] | None = None

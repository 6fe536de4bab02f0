"""The AI pipeline's ledger event types, with the fields agreed for them, registered here
only when the pipeline's own modules have not registered them (so tests of the console can
append them before that code is merged, and keep working after)."""

from __future__ import annotations

from dataclasses import dataclass, make_dataclass
from typing import Any

from callseal.ledger.registry import Personal, register_event, spec_for

FIELDS: dict[str, list[tuple[str, Any]]] = {
    "turn.caller": [
        ("text", Personal[str]),
        ("redacted_text", str),
        ("started_ms", int),
        ("ended_ms", int),
    ],
    "turn.agent": [("text", Personal[str]), ("heard_text", Personal[str]), ("interrupted", bool)],
    "turn.latency": [
        ("asr_final_ms", int),
        ("llm_first_token_ms", int),
        ("tts_first_audio_ms", int),
        ("first_frame_ms", int),
        ("voice_to_voice_ms", int),
    ],
    "inference.hop": [
        ("service", str),
        ("region", str),
        ("model", str),
        ("model_version", str),
        ("engine", str),
    ],
    "tool.called": [("name", str), ("arguments", dict[str, Any]), ("result", dict[str, Any])],
    "call.escalated": [("reason", str), ("queue", str), ("summary", str)],
    "agent.fallback": [("reason", str), ("detail", str)],
    "call.agent_assigned": [("agent_id", str), ("agent_version", int)],
    "consent.announcement_played": [
        ("announcement_version", str),
        ("at", str),
        ("audio_offset_ms", int),
        ("requirement", str),
    ],
    "consent.given": [
        ("announcement_version", str),
        ("at", str),
        ("audio_offset_ms", int),
        ("method", str),
        ("signal", str),
    ],
}
CLASSES: dict[str, Any] = {}
for _type, _fields in FIELDS.items():
    _spec = spec_for(_type, 1)
    if _spec is None:
        _cls = make_dataclass(
            "Ai" + _type.title().replace(".", "").replace("_", ""), _fields, frozen=True, slots=True
        )
        register_event(_type, version=1)(_cls)
        _spec = spec_for(_type, 1)
    CLASSES[_type] = _spec.cls  # type: ignore[union-attr]


def event(type_: str, **fields: Any) -> Any:
    return CLASSES[type_](**fields)


__all__ = ["CLASSES", "dataclass", "event"]

"""Build the AI pipeline's ledger events (agents/events.py) for console tests.

Tests name only the fields they care about; ``event`` fills the pipeline's other fields
with neutral values (turn 1, empty text, False, None). Consent evidence types are
registered here until the call path appends them itself (compliance/consent.py)."""

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


def _neutral(name: str, tp: Any, given: dict[str, Any]) -> Any:
    """A value of type ``tp`` that says nothing: the field is not under test."""
    import typing

    if name == "redacted_text":
        return given.get("text", "")
    if name == "turn":
        return 1
    if type(None) in typing.get_args(tp):
        return None
    origin = typing.get_origin(tp) or tp
    return {bool: False, int: 0, float: 0.0, str: "", dict: {}, list: []}[origin]


def event(type_: str, **fields: Any) -> Any:
    import dataclasses
    import json

    cls = CLASSES[type_]
    spec = spec_for(type_, 1)
    assert spec is not None
    values = dict(fields)
    for field in dataclasses.fields(cls):
        expected = spec.fields[field.name]
        if field.name not in values:
            values[field.name] = _neutral(field.name, expected, fields)
        elif expected is str and isinstance(values[field.name], dict):
            values[field.name] = json.dumps(values[field.name], sort_keys=True)
    return cls(
        **{k: v for k, v in values.items() if k in {f.name for f in dataclasses.fields(cls)}}
    )


__all__ = ["CLASSES", "dataclass", "event"]

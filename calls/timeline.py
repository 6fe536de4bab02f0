"""A call's ledger stream as the console shows it: timeline, redacted transcript, consent
evidence, latency per turn, inference hops. Caller personal fields are never shown: the
caller's words only as redacted text, the number only masked, tool arguments only by name.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from analytics.projections import CONSENT, PAYMENT, transcript_line
from calls.services import call_events
from callseal.ledger.events import RecordedEvent

CATEGORY = {
    "turn.caller": "turn",
    "turn.agent": "turn",
    "turn.interrupted": "turn",
    "turn.latency": "latency",
    "turn.underrun": "latency",
    "inference.hop": "inference",
    "tool.called": "tool",
    "call.escalated": "escalation",
    "call.escalation_requested": "escalation",
    "call.end_requested": "supervision",
    "call.end_refused": "supervision",
    "agent.fallback": "fallback",
    **dict.fromkeys(CONSENT, "consent"),
    **dict.fromkeys(PAYMENT, "payment"),
}


@dataclass(frozen=True, slots=True)
class Entry:
    at: datetime
    version: int
    type: str
    category: str
    detail: str


@dataclass
class CallRecord:
    timeline: list[Entry] = field(default_factory=list)
    transcript: list[dict[str, Any]] = field(default_factory=list)
    consent: list[Entry] = field(default_factory=list)
    latencies: list[dict[str, Any]] = field(default_factory=list)
    hops: list[dict[str, Any]] = field(default_factory=list)


def _kv(data: dict[str, Any], *names: str) -> str:
    return ", ".join(
        f"{n.replace('_', ' ')} {data[n]}" for n in names if data.get(n) not in (None, "")
    )


def describe(event: RecordedEvent) -> str:
    d = event.data
    t = event.type
    if t == "call.started":
        return f"from {d.get('from_masked')} to {d.get('to_number')}, region {d.get('region')}"
    if t == "stream.connected":
        return f"media stream {d.get('stream_index')} connected"
    if t == "call.resumed":
        return f"resumed on stream {d.get('stream_index')}"
    if t == "stream.ended":
        index, reason = d.get("stream_index"), d.get("reason")
        return f"stream {index} ended ({reason}), {d.get('frames_in')} frames in"
    if t == "call.status_changed":
        return f"Twilio status {d.get('twilio_status')}"
    if t == "call.ended":
        return f"ended: {d.get('status')}"
    if t in ("turn.caller", "turn.agent"):
        line = transcript_line(event)
        return f"{line['speaker']}: {line['text']}"
    if t == "turn.interrupted":
        return f"caller barged in after {len(d.get('heard_chunk_ids') or [])} chunks heard"
    if t == "turn.latency":
        return _kv(
            d,
            "voice_to_voice_ms",
            "asr_final_ms",
            "llm_first_token_ms",
            "tts_first_audio_ms",
            "first_frame_ms",
        )
    if t == "turn.underrun":
        return (
            f"{d.get('kind')}: silence inside the utterance, {d.get('gaps')} gap(s), "
            f"{d.get('silence_ms')} ms in all (longest {d.get('longest_ms')} ms)"
        )
    if t == "inference.hop":
        return _kv(d, "service", "region", "model", "model_version", "engine")
    if t == "tool.called":
        args = d.get("arguments")
        keys = ", ".join(sorted(args)) if isinstance(args, dict) else ""
        return f"{d.get('name')}({keys})"
    if t in ("call.escalated", "call.escalation_requested"):
        return _kv(d, "reason", "queue", "requested_by")
    if t == "call.end_requested":
        return _kv(d, "reason", "requested_by")
    if t == "call.end_refused":
        return _kv(d, "reason", "requested_by", "error")
    if t == "agent.fallback":
        return _kv(d, "reason")
    if t == "call.agent_assigned":
        return f"agent {d.get('agent_id')} v{d.get('agent_version')}"
    if t == "consent.required":
        return _kv(d, "requirement", "policy", "state", "reason")
    if t in CONSENT:
        return _kv(
            d, "method", "signal", "requirement", "announcement_version", "audio_offset_ms", "at"
        )
    if t in PAYMENT:  # the events carry no digits and no digit counts
        return _kv(d, "step_id", "outcome", "result", "audio_offset_ms")
    return ""


def _withheld_detail(event: RecordedEvent, withheld: str) -> str:
    if event.type in ("turn.caller", "turn.agent"):
        speaker = "caller" if event.type == "turn.caller" else "agent"
        return f"{speaker}: [{withheld}]"
    if event.type == "call.started":
        data = event.data
        return f"from [{withheld}] to {data.get('to_number')}, region {data.get('region')}"
    return describe(event)


def call_record(*, call_id: uuid.UUID, withheld: str = "") -> CallRecord:
    """Everything the detail page shows, from one read of the call's stream.

    ``withheld`` (compliance.call_data) names why the words of both sides and the caller's
    masked number may no longer be shown; the turns then keep only their place and timing.
    """
    record = CallRecord()
    for event in call_events(call_id=call_id):
        entry = Entry(
            at=event.recorded_at,
            version=event.stream_version,
            type=event.type,
            category=CATEGORY.get(event.type, "lifecycle"),
            detail=_withheld_detail(event, withheld) if withheld else describe(event),
        )
        record.timeline.append(entry)
        if event.type in ("turn.caller", "turn.agent"):
            line = transcript_line(event)
            if withheld:
                line = {**line, "text": "", "withheld": withheld}
            record.transcript.append({"at": event.recorded_at, **line})
        elif event.type in CONSENT:
            record.consent.append(entry)
        elif event.type == "turn.latency":
            record.latencies.append(dict(event.data))
        elif event.type == "inference.hop":
            record.hops.append(dict(event.data))
    return record

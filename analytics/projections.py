"""Dashboard read models (analytics/models.py) as a projection of each call's stream.

Registered inline: the write envelope (callseal.ledger.envelope) applies it in the
transaction of every service that records call events (no app imports it), and the
``analytics.catch_up_region`` beat task catches up per region, which covers events appended
outside the envelope. ``CallSummary.ledger_version`` is the last stream version
applied: an event seen again changes nothing, and an event that arrives after a gap (its
predecessors were appended by code that did not project them) first reads and applies the
missing ones, so counters move exactly once. An outcome is decided at the call's end and
reconsidered when a later event changes it (the AI recorder's last events may follow
Twilio's ``completed``), so live figures equal a replay's.

The AI pipeline's event types are handled by name (``turn.caller``, ``turn.latency``,
``turn.underrun``, …),
so this module imports none of their classes.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F

from analytics import live
from analytics.models import CallSummary, HourlyVolume, LatencySample, Outcome
from callseal.ledger import store
from callseal.ledger.events import RecordedEvent
from callseal.ledger.projections import Projection, register_projection
from callseal.ledger.selectors import ledger_read_stream
from callseal.tenancy.context import current_tenant

LIFECYCLE = (
    "call.started",
    "stream.connected",
    "call.resumed",
    "stream.ended",
    "call.status_changed",
    "call.ended",
    "turn.interrupted",
)
AI = (
    "call.agent_assigned",
    "turn.caller",
    "turn.agent",
    "turn.latency",
    "turn.underrun",
    "inference.hop",
    "tool.called",
    "call.escalated",
    "agent.fallback",
)
SUPERVISION = ("call.end_requested", "call.end_refused", "call.escalation_requested")
CONSENT = (
    "consent.required",
    "consent.announcement_played",
    "consent.given",
    "consent.denied",
    "consent.revoked",
)
PAYMENT = ("payment.paused", "payment.resumed")
CALL_STREAM_TYPES = LIFECYCLE + AI + SUPERVISION + CONSENT + PAYMENT
TRANSCRIPT_TYPES = ("turn.caller", "turn.agent")
ESCALATION_TYPES = ("call.escalated", "call.escalation_requested")
# What the agent says without answering the caller (agents.events.TurnAgent.kind): a call
# whose only agent turns are these was not handled by the AI.
NOT_ANSWERS = frozenset(
    {"greeting", "consent", "hold", "apology", "escalation", "goodbye", "payment"}
)
# Events that can change a call's outcome when they reach the ledger after its end (the
# AI pipeline's recorder appends off the audio path, so its last events may follow
# Twilio's ``completed`` callback).
OUTCOME_TYPES = ("turn.agent", "agent.fallback", *ESCALATION_TYPES)


def call_id_of(event: RecordedEvent) -> uuid.UUID | None:
    """The call of an event on a ``call-<uuid>`` stream (rejected-call streams have none)."""
    if not event.stream_id.startswith("call-"):
        return None
    try:
        return uuid.UUID(event.stream_id.removeprefix("call-"))
    except ValueError:
        return None


def hour_of(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _ms(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) else None


def transcript_line(event: RecordedEvent) -> dict[str, Any]:
    """What the console shows of a turn: the caller's words only as redacted text."""
    data = event.data
    if event.type == "turn.caller":
        return {"speaker": "caller", "text": str(data.get("redacted_text") or "")}
    # The agent's words are what it said; its own redacted form wins when it has one.
    text = data.get("redacted_text") or data.get("heard_text") or data.get("text") or ""
    return {
        "speaker": "agent",
        "text": str(text),
        "interrupted": bool(data.get("interrupted")),
    }


class CallAnalyticsProjection(Projection):
    name = "analytics.calls"
    types = CALL_STREAM_TYPES
    inline = True

    def apply(self, event: RecordedEvent) -> None:
        call_id = call_id_of(event)
        if call_id is None:
            return
        tenant = current_tenant()
        # The row lock orders an inline apply and a concurrent catch-up run (PostgreSQL).
        summary = (
            CallSummary.objects.select_for_update()
            .filter(tenant_id=tenant.id, call_id=call_id)
            .first()
        )
        applied = summary.ledger_version if summary is not None else 0
        if event.stream_version <= applied:
            return
        if event.stream_version > applied + 1:
            for missing in ledger_read_stream(
                stream_id=event.stream_id,
                after_version=applied,
                limit=event.stream_version - applied - 1,
            ):
                summary = self._step(summary, missing)
        summary = self._step(summary, event)
        if summary is not None:
            summary.save()

    def _step(self, summary: CallSummary | None, event: RecordedEvent) -> CallSummary | None:
        tenant = current_tenant()
        data = event.data
        if event.type == "call.started":
            if summary is not None:
                return summary
            started = datetime.fromisoformat(data["started_at"])
            summary = CallSummary.objects.create(
                tenant_id=tenant.id,
                call_id=uuid.UUID(data["call_id"]),
                started_at=started,
                agent_id=uuid.UUID(data["agent_id"]) if data.get("agent_id") else None,
                ledger_version=event.stream_version,
            )
            _bump_hour(started, calls=1)
            _publish_call(summary, event, status="ringing")
            return summary
        if summary is None:
            return None  # events of a call whose start this ledger does not hold
        summary.ledger_version = event.stream_version
        if event.type == "call.agent_assigned":
            summary.agent_id = uuid.UUID(data["agent_id"])
            summary.agent_version = data.get("agent_version")
        elif event.type == "turn.caller":
            summary.caller_turns += 1
        elif event.type == "turn.agent":
            summary.agent_turns += 1
            if str(data.get("kind", "")) not in NOT_ANSWERS:
                summary.agent_answers += 1
        elif event.type in ESCALATION_TYPES:
            summary.escalated = True
        elif event.type == "agent.fallback":
            summary.fallbacks += 1
        elif event.type == "inference.hop":
            region = str(data.get("region", ""))
            if region and region not in summary.inference_regions:
                summary.inference_regions = [*summary.inference_regions, region]
        elif event.type == "turn.latency":
            _latency(summary, event)
        elif event.type == "turn.underrun":
            _underrun(summary, event)
        elif event.type == "call.ended":
            _end(summary, event)
        if event.type in OUTCOME_TYPES:
            _reconsider(summary)
        self._publish(summary, event)
        return summary

    def _publish(self, summary: CallSummary, event: RecordedEvent) -> None:
        topic = live.call_topic(summary.call_id)
        if event.type == "stream.connected":
            _publish_call(summary, event, status="in_progress")
        elif event.type == "call.status_changed":
            _publish_call(summary, event, status=event.data["status"])
        elif event.type == "call.ended":
            _publish_call(summary, event, status=event.data["status"])
            live.publish_on_commit(
                topic=topic,
                event={"kind": "ended", "status": event.data["status"], "outcome": summary.outcome},
                recorded_at=event.recorded_at,
            )
        elif event.type in TRANSCRIPT_TYPES:
            live.publish_on_commit(
                topic=topic,
                event={"kind": "turn", "version": event.stream_version, **transcript_line(event)},
                recorded_at=event.recorded_at,
            )
        elif event.type == "turn.latency":
            live.publish_on_commit(
                topic=topic,
                event={"kind": "latency", "voice_to_voice_ms": summary.v2v_max_ms},
                recorded_at=event.recorded_at,
            )
        elif event.type in ESCALATION_TYPES:
            live.publish_on_commit(
                topic=topic,
                event={"kind": "escalated", "reason": str(event.data.get("reason", ""))},
                recorded_at=event.recorded_at,
            )

    def reset(self) -> None:
        tenant_id = current_tenant().id
        LatencySample.objects.filter(tenant_id=tenant_id).delete()
        HourlyVolume.objects.filter(tenant_id=tenant_id).delete()
        CallSummary.objects.filter(tenant_id=tenant_id).delete()


def _latency(summary: CallSummary, event: RecordedEvent) -> None:
    data = event.data
    v2v = _ms(data.get("voice_to_voice_ms"))
    if v2v is None:
        return
    _, created = LatencySample.objects.get_or_create(
        tenant_id=summary.tenant_id,
        call_id=summary.call_id,
        stream_version=event.stream_version,
        defaults={
            "at": event.recorded_at,
            "voice_to_voice_ms": v2v,
            "asr_final_ms": _ms(data.get("asr_final_ms")),
            "llm_first_token_ms": _ms(data.get("llm_first_token_ms")),
            "tts_first_audio_ms": _ms(data.get("tts_first_audio_ms")),
            "first_frame_ms": _ms(data.get("first_frame_ms")),
        },
    )
    if created:
        summary.v2v_count += 1
        summary.v2v_sum_ms += v2v
        summary.v2v_max_ms = max(summary.v2v_max_ms or 0, v2v)


def _underrun(summary: CallSummary, event: RecordedEvent) -> None:
    """Silence inside one agent utterance (the player ran dry between TTS pieces)."""
    gaps = _ms(event.data.get("gaps"))
    silence = _ms(event.data.get("silence_ms"))
    longest = _ms(event.data.get("longest_ms"))
    if not gaps or silence is None or longest is None:
        return
    summary.dead_air_gaps += gaps
    summary.dead_air_ms += silence
    summary.dead_air_longest_ms = max(summary.dead_air_longest_ms or 0, longest)


def outcome_of(summary: CallSummary, status: str) -> str:
    """Escalated if anyone escalated it or the agent fell back (a fallback is an apology
    and a hand-over to a human); contained only if the agent answered the caller (a turn
    that is not a fixed prompt, see NOT_ANSWERS) and the call completed; otherwise
    abandoned (busy, no answer, failed, or the caller left before any answer)."""
    if summary.escalated or summary.fallbacks:
        return Outcome.ESCALATED
    if summary.agent_answers and status == "completed":
        return Outcome.CONTAINED
    return Outcome.ABANDONED


def _end(summary: CallSummary, event: RecordedEvent) -> None:
    if summary.ended_at is not None:
        return
    ended = datetime.fromisoformat(event.data["ended_at"])
    summary.ended_at = ended
    summary.end_status = event.data["status"]
    summary.duration_ms = max(0, int((ended - summary.started_at).total_seconds() * 1000))
    summary.outcome = outcome_of(summary, event.data["status"])
    _bump_hour(summary.started_at, **{summary.outcome: 1})


def _reconsider(summary: CallSummary) -> None:
    """An ended call whose outcome an event appended after its end changes: move it from
    one hourly counter to the other, so the figures equal a replay of the whole stream."""
    if summary.ended_at is None:
        return
    outcome = outcome_of(summary, summary.end_status)
    if outcome == summary.outcome:
        return
    _bump_hour(summary.started_at, **{summary.outcome: -1, outcome: 1})
    summary.outcome = outcome


def _bump_hour(started: datetime, **counts: int) -> None:
    tenant = current_tenant()
    hour = hour_of(started)
    updates = {name: F(name) + n for name, n in counts.items()}
    if HourlyVolume.objects.filter(tenant_id=tenant.id, hour=hour).update(**updates):
        return
    try:
        with transaction.atomic(using=store.alias_for(tenant)):
            HourlyVolume.objects.create(tenant_id=tenant.id, hour=hour, **counts)
    except IntegrityError:  # another writer created the hour's row first
        HourlyVolume.objects.filter(tenant_id=tenant.id, hour=hour).update(**updates)


def _publish_call(summary: CallSummary, event: RecordedEvent, *, status: str) -> None:
    live.publish_on_commit(
        topic=live.CALLS,
        event={
            "kind": "call",
            "call_id": str(summary.call_id),
            "status": status,
            "outcome": summary.outcome,
            "started_at": summary.started_at.isoformat(),
        },
        recorded_at=event.recorded_at,
    )


register_projection(CallAnalyticsProjection)

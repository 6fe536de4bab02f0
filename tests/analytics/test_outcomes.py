"""What counts as contained, and figures that agree with a replay (issue 21, item 5)."""

from __future__ import annotations

import uuid
from io import StringIO

import pytest
from django.core.management import call_command

from agents.voice.records import agent_events_append
from analytics.models import CallSummary, HourlyVolume
from analytics.selectors import call_voice_to_voice, latency_last_hour, today
from callseal.tenancy.context import tenant_context
from tests.analytics.ai_events import event
from tests.conftest import ALL_DATABASES

pytestmark = pytest.mark.django_db(databases=ALL_DATABASES)


def _summary(tenant, call_id) -> CallSummary:  # type: ignore[no-untyped-def]
    with tenant_context(tenant):
        return CallSummary.objects.get(tenant_id=tenant.id, call_id=call_id)


def _hours(tenant) -> list[tuple[int, int, int, int]]:  # type: ignore[no-untyped-def]
    with tenant_context(tenant):
        return [
            (h.calls, h.contained, h.escalated, h.abandoned)
            for h in HourlyVolume.objects.filter(tenant_id=tenant.id)
        ]


def _agent(text: str, kind: str) -> object:
    return event("turn.agent", text=text, heard_text=text, interrupted=False, kind=kind)


def test_a_call_whose_only_answer_was_a_fallback_is_not_contained(acme_us, drive):
    call = drive()
    call.record(_agent("Hello, Acme.", "greeting"))
    call.record(event("turn.caller", text="where is my order", redacted_text="where is my order"))
    call.record(event("agent.fallback", reason="no_audio", detail="no agent audio 8 s"))
    call.record(_agent("Sorry, let me find someone to help.", "apology"))
    call.end()
    summary = _summary(acme_us, call.call_id)
    assert (summary.agent_turns, summary.agent_answers, summary.fallbacks) == (2, 0, 1)
    assert summary.outcome == "escalated"
    assert _hours(acme_us) == [(1, 0, 1, 0)]


def test_a_call_that_heard_only_prompts_is_abandoned_not_contained(acme_us, drive):
    call = drive()
    call.record(_agent("Hello, Acme.", "greeting"))
    call.record(_agent("Do you agree to this call being recorded?", "consent"))
    call.end()
    summary = _summary(acme_us, call.call_id)
    assert (summary.agent_turns, summary.agent_answers, summary.outcome) == (2, 0, "abandoned")


def test_an_answered_call_is_contained(acme_us, drive):
    call = drive()
    call.record(_agent("Hello, Acme.", "greeting"))
    call.turn("opening hours?", "opening hours?", "Nine to five.", 700)
    call.end()
    summary = _summary(acme_us, call.call_id)
    assert (summary.agent_answers, summary.outcome) == (1, "contained")
    assert _hours(acme_us) == [(1, 1, 0, 0)]


def test_an_escalation_recorded_after_the_end_moves_the_call_and_a_replay_agrees(acme_us, drive):
    """The AI recorder appends off the audio path: its fallback and escalation can reach
    the ledger after Twilio's completed callback ended the call."""
    call = drive()
    call.turn("hello", "hello", "Hi, how can I help?", 500)
    call.end()
    assert _summary(acme_us, call.call_id).outcome == "contained"
    assert _hours(acme_us) == [(1, 1, 0, 0)]
    call.record(event("agent.fallback", reason="inference_error", detail="llm 500"))
    call.record(event("call.escalated", reason="fallback", queue="support", summary="s"))
    assert _summary(acme_us, call.call_id).outcome == "escalated"
    assert _hours(acme_us) == [(1, 0, 1, 0)]
    with tenant_context(acme_us):
        assert (today().contained, today().escalated) == (0, 1)

    out = StringIO()
    call_command(
        "ledger_replay", "--tenant", "acme-us", "--projection", "analytics.calls", stdout=out
    )
    summary = _summary(acme_us, call.call_id)
    assert (summary.outcome, summary.agent_answers, summary.fallbacks) == ("escalated", 1, 1)
    assert _hours(acme_us) == [(1, 0, 1, 0)]


def test_the_voice_agents_events_reach_the_dashboard_and_call_page_as_recorded(acme_us, drive):
    """agents.voice.records appends the pipeline's events; the dashboard's replies and the
    call's voice-to-voice must not wait for the beat catch-up."""
    call = drive()
    agent_events_append(
        tenant=call.tenant,
        call_id=call.call_id,
        subject=call.subject,
        events=[
            event("turn.caller", text="hi", redacted_text="hi"),
            _agent("Hello! How can I help?", "reply"),
            event("turn.latency", voice_to_voice_ms=1221, first_frame_ms=1221),
        ],
    )
    with tenant_context(acme_us):
        assert latency_last_hour().samples == 1
        v2v = call_voice_to_voice(call_id=call.call_id)
    assert (v2v.turns, v2v.avg_ms, v2v.max_ms) == (1, 1221, 1221)
    summary = _summary(acme_us, call.call_id)
    assert (summary.caller_turns, summary.agent_answers) == (1, 1)


def test_a_calls_voice_to_voice_is_not_found_from_another_tenant(acme_us, acme_eu, drive):
    call = drive()
    call.turn("hi", "hi", "hello", 640)
    with tenant_context(acme_eu):
        assert call_voice_to_voice(call_id=call.call_id).turns == 0
    with tenant_context(acme_us):
        assert call_voice_to_voice(call_id=call.call_id).avg_ms == 640
        assert call_voice_to_voice(call_id=uuid.uuid4()).turns == 0

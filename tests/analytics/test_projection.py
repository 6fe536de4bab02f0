from __future__ import annotations

import pytest

from agents.events import TurnUnderrun
from analytics.models import CallSummary, HourlyVolume, LatencySample
from analytics.projections import CallAnalyticsProjection
from analytics.selectors import latency_last_hour, nearest_rank, today, volume_by_hour
from callseal.ledger.projections import projection_rebuild, projection_run
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


def test_an_answered_call_is_contained_with_its_latency_and_inference_region(acme_us, drive):
    call = drive()
    call.turn("my card is 4111 1111 1111 1111", "my card is [CARD]", "Thanks, noted.", 640)
    call.turn("and my name is Ann", "and my name is [PERSON]", "Thank you Ann.", 820)
    call.record(TurnUnderrun(turn=2, kind="reply", gaps=2, silence_ms=130, longest_ms=99))
    call.record(TurnUnderrun(turn=1, kind="reply", gaps=1, silence_ms=240, longest_ms=240))
    call.end()
    summary = _summary(acme_us, call.call_id)
    assert (summary.outcome, summary.end_status) == ("contained", "completed")
    assert (summary.caller_turns, summary.agent_turns) == (2, 2)
    assert (summary.v2v_count, summary.v2v_sum_ms, summary.v2v_max_ms) == (2, 1460, 820)
    assert (summary.dead_air_gaps, summary.dead_air_ms, summary.dead_air_longest_ms) == (
        3,
        370,
        240,
    )
    assert summary.v2v_avg_ms == 730
    assert summary.inference_regions == ["us"]
    assert summary.duration_ms is not None
    assert summary.duration_ms >= 0
    assert _hours(acme_us) == [(1, 1, 0, 0)]
    with tenant_context(acme_us):
        assert sorted(LatencySample.objects.values_list("voice_to_voice_ms", flat=True)) == [
            640,
            820,
        ]


def test_escalated_and_silent_calls_count_as_escalated_and_abandoned(acme_us, drive):
    escalated = drive()
    escalated.turn("I want a human", "I want a human", "Connecting you.", 700)
    escalated.record(event("call.escalated", reason="caller asked", queue="support", summary="s"))
    escalated.end()
    silent = drive()
    silent.end("no_answer")
    assert _summary(acme_us, escalated.call_id).outcome == "escalated"
    assert _summary(acme_us, silent.call_id).outcome == "abandoned"
    assert _hours(acme_us) == [(2, 0, 1, 1)]
    with tenant_context(acme_us):
        figures = today()
    assert (figures.calls, figures.ended, figures.escalation_pct, figures.containment_pct) == (
        2,
        2,
        50.0,
        0.0,
    )


def test_events_appended_without_projection_are_applied_before_the_end_decides(acme_us, drive):
    # The AI pipeline appends turns without calling the projection; the inline call.ended
    # finds the gap, reads the missing events and decides on the whole call.
    call = drive()
    call.turn("hello", "hello", "Hi, how can I help?", 500, inline=False)
    call.end()
    summary = _summary(acme_us, call.call_id)
    assert (summary.outcome, summary.agent_turns, summary.v2v_count) == ("contained", 1, 1)
    # started, consent.required, caller, hop, agent, latency, ended
    assert summary.ledger_version == 7


def test_catch_up_and_rebuild_change_nothing_already_applied(acme_us, drive):
    first, second = drive(), drive()
    first.turn("a", "a", "b", 400)
    first.end()
    second.turn("c", "c", "d", 900, inline=False)  # only the catch-up will see these
    second.record(
        TurnUnderrun(turn=1, kind="reply", gaps=1, silence_ms=50, longest_ms=50), inline=False
    )
    before = _hours(acme_us)
    with tenant_context(acme_us):
        applied = projection_run(CallAnalyticsProjection())
        assert applied > 0
        assert projection_run(CallAnalyticsProjection()) == 0
    assert _hours(acme_us) == before == [(2, 1, 0, 0)]
    assert _summary(acme_us, second.call_id).v2v_count == 1
    assert _summary(acme_us, second.call_id).dead_air_ms == 50
    with tenant_context(acme_us):
        projection_rebuild(CallAnalyticsProjection())
    assert _hours(acme_us) == before
    assert _summary(acme_us, first.call_id).outcome == "contained"
    rebuilt = _summary(acme_us, second.call_id)
    assert rebuilt.v2v_max_ms == 900
    assert (rebuilt.dead_air_gaps, rebuilt.dead_air_ms) == (1, 50)


@pytest.mark.parametrize(
    ("n", "pct", "index"), [(1, 50, 0), (1, 95, 0), (100, 50, 49), (100, 95, 94), (20, 95, 18)]
)
def test_nearest_rank_percentile_index(n, pct, index):
    assert nearest_rank(n, pct) == index


def test_latency_percentiles_of_the_last_hour(acme_us, drive):
    call = drive()
    for v2v in [900, 100, 500, 300, 700, 200, 800, 400, 600, 1000]:
        call.turn("x", "x", "y", v2v)
    with tenant_context(acme_us):
        figures = latency_last_hour()
        chart = volume_by_hour(hours=3)
    assert (figures.samples, figures.p50_ms, figures.p95_ms) == (10, 500, 1000)
    assert chart["calls"][-1] == 1
    assert len(chart["t"]) == 3


def test_other_tenants_calls_are_not_counted(acme_us, acme_eu, drive):
    drive().end()
    with tenant_context(acme_eu):
        assert today().calls == 0
    with tenant_context(acme_us):
        assert today().calls == 1

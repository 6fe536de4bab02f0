"""Reads of the dashboard's read models. Each figure is a constant number of indexed
queries, whatever the tenant's history (pages stay O(1) in queries)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import QuerySet, Sum
from django.utils import timezone

from analytics.models import CallSummary, HourlyVolume, LatencySample
from calls.models import Call, CallStatus
from callseal.tenancy.context import current_tenant

LIVE_STATUSES = (CallStatus.RINGING, CallStatus.IN_PROGRESS)


@dataclass(frozen=True, slots=True)
class Today:
    calls: int
    ended: int
    contained: int
    escalated: int
    abandoned: int

    def _rate(self, n: int) -> float | None:
        return round(100.0 * n / self.ended, 1) if self.ended else None

    @property
    def containment_pct(self) -> float | None:
        return self._rate(self.contained)

    @property
    def escalation_pct(self) -> float | None:
        return self._rate(self.escalated)


@dataclass(frozen=True, slots=True)
class Latency:
    samples: int
    p50_ms: int | None
    p95_ms: int | None


def start_of_day(now: datetime | None = None) -> datetime:
    """Midnight UTC: the dashboard's "today" (tenants have no time zone setting yet)."""
    now = now or timezone.now()
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def live_calls(*, limit: int = 20) -> tuple[int, QuerySet[Call]]:
    calls = Call.objects.filter(tenant_id=current_tenant().id, status__in=LIVE_STATUSES)
    return calls.count(), calls.order_by("-started_at")[:limit]


def today(*, now: datetime | None = None) -> Today:
    totals = HourlyVolume.objects.filter(
        tenant_id=current_tenant().id, hour__gte=start_of_day(now)
    ).aggregate(
        calls=Sum("calls"),
        contained=Sum("contained"),
        escalated=Sum("escalated"),
        abandoned=Sum("abandoned"),
    )
    counts = {k: int(v or 0) for k, v in totals.items()}
    ended = counts["contained"] + counts["escalated"] + counts["abandoned"]
    return Today(ended=ended, **counts)


def nearest_rank(n: int, pct: float) -> int:
    """0-based index of the ``pct`` percentile of ``n`` sorted values (nearest rank)."""
    return max(0, math.ceil(pct / 100 * n) - 1)


def latency_last_hour(*, now: datetime | None = None) -> Latency:
    """p50/p95 voice-to-voice over the last hour: a count, then each percentile as one
    indexed ORDER BY … OFFSET k LIMIT 1 (the database sorts; nothing is fetched in bulk)."""
    since = (now or timezone.now()) - timedelta(hours=1)
    samples = LatencySample.objects.filter(tenant_id=current_tenant().id, at__gte=since)
    n = samples.count()
    if not n:
        return Latency(samples=0, p50_ms=None, p95_ms=None)
    ordered = samples.order_by("voice_to_voice_ms").values_list("voice_to_voice_ms", flat=True)
    return Latency(
        samples=n,
        p50_ms=ordered[nearest_rank(n, 50)],
        p95_ms=ordered[nearest_rank(n, 95)],
    )


def volume_by_hour(*, hours: int = 24, now: datetime | None = None) -> dict[str, list[Any]]:
    """uPlot columns: hour starts (epoch seconds), calls, contained, escalated, abandoned."""
    now = now or timezone.now()
    first = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours - 1)
    rows = {
        r.hour: r
        for r in HourlyVolume.objects.filter(tenant_id=current_tenant().id, hour__gte=first)
    }
    out: dict[str, list[Any]] = {
        k: [] for k in ("t", "calls", "contained", "escalated", "abandoned")
    }
    for i in range(hours):
        hour = first + timedelta(hours=i)
        row = rows.get(hour)
        out["t"].append(int(hour.timestamp()))
        for key in ("calls", "contained", "escalated", "abandoned"):
            out[key].append(getattr(row, key) if row else 0)
    return out


MAX_CHART_SAMPLES = 5000


def latency_by_minute(*, minutes: int = 60, now: datetime | None = None) -> dict[str, list[Any]]:
    """uPlot columns: minute starts, p50 and p95 voice-to-voice per minute (None: no turns)."""
    now = now or timezone.now()
    first = now.replace(second=0, microsecond=0) - timedelta(minutes=minutes - 1)
    points = LatencySample.objects.filter(tenant_id=current_tenant().id, at__gte=first).values_list(
        "at", "voice_to_voice_ms"
    )[:MAX_CHART_SAMPLES]
    buckets: dict[int, list[int]] = {}
    for at, value in points:
        buckets.setdefault(int((at - first).total_seconds() // 60), []).append(value)
    out: dict[str, list[Any]] = {"t": [], "p50": [], "p95": []}
    for i in range(minutes):
        values = sorted(buckets.get(i, []))
        out["t"].append(int((first + timedelta(minutes=i)).timestamp()))
        out["p50"].append(values[nearest_rank(len(values), 50)] if values else None)
        out["p95"].append(values[nearest_rank(len(values), 95)] if values else None)
    return out


@dataclass(frozen=True, slots=True)
class CallVoiceToVoice:
    """A call's voice-to-voice latency: from the end of the caller's speech to the agent's
    first audio frame sent, per reply (``turn.latency``, measured by the call's pipeline)."""

    turns: int
    avg_ms: int | None
    max_ms: int | None


def call_voice_to_voice(*, call_id: Any) -> CallVoiceToVoice:
    """The one definition of a call's voice-to-voice, shown by the call page and the
    test-call page alike: the mean and the worst over its timed replies."""
    summary = CallSummary.objects.filter(tenant_id=current_tenant().id, call_id=call_id).first()
    if summary is None or not summary.v2v_count:
        return CallVoiceToVoice(turns=0, avg_ms=None, max_ms=None)
    return CallVoiceToVoice(
        turns=summary.v2v_count, avg_ms=summary.v2v_avg_ms, max_ms=summary.v2v_max_ms
    )


def summaries_for(call_ids: list[Any]) -> dict[Any, CallSummary]:
    return {
        s.call_id: s
        for s in CallSummary.objects.filter(tenant_id=current_tenant().id, call_id__in=call_ids)
    }

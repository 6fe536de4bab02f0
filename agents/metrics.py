"""Prometheus histograms of the voice agent's per-turn latency and of the silences inside
its utterances (underruns), and the ``/metrics`` view.

``/metrics`` answers staff users of the console or a scraper presenting
``Authorization: Bearer $CALLSEAL_METRICS_TOKEN`` (compared in constant time); everyone
else gets 404, so the endpoint's existence is not advertised. With no token configured
only staff sessions can read it. Label values are the region and step only: never a
tenant or call id (unbounded cardinality, and tenants must not see each other's volume).
"""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest

BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 1.2, 1.5, 2.0, 3.0, 5.0)

TURN_LATENCY = Histogram(
    "callseal_agent_turn_latency_seconds",
    "Time from the end of the caller's speech to each step of the agent's reply.",
    ["region", "step"],  # step: asr_final, llm_first_token, tts_first_audio, first_frame
    buckets=BUCKETS,
)
UNDERRUNS = Histogram(
    "callseal_agent_underrun_seconds",
    "Silences the caller heard inside an agent utterance (the player ran dry or was late).",
    ["region", "kind"],  # kind: reply, greeting, lookup, ... (as turn.agent's)
    buckets=(0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 5.0),
)
FALLBACKS = Counter(
    "callseal_agent_fallbacks_total",
    "Agent fallbacks (apology + escalation).",
    ["region", "reason"],
)


def observe_turn(*, region: str, steps: dict[str, int | None]) -> None:
    for step, ms in steps.items():
        if ms is not None:
            TURN_LATENCY.labels(region=region, step=step).observe(ms / 1000)


def observe_underruns(*, region: str, kind: str, gaps: list[float]) -> None:
    for seconds in gaps:
        UNDERRUNS.labels(region=region, kind=kind).observe(seconds)


def _authorised(request: HttpRequest) -> bool:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and user.is_staff:
        return True
    token = settings.CALLSEAL_METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if not token or not header.startswith("Bearer "):
        return False
    return hmac.compare_digest(header.removeprefix("Bearer ").encode(), token.encode())


def metrics_view(request: HttpRequest) -> HttpResponse:
    if not _authorised(request):
        raise Http404
    from callseal.ledger.metrics import integrity_metrics

    body = generate_latest(REGISTRY) + integrity_metrics()
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)

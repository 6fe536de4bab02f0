"""The dashboard: live calls (pushed over /ws/console/), today's figures, latency,
charts, and inference health (a fragment loaded after the page, so a slow region never
delays it)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from analytics import selectors
from analytics.health import inference_health
from callseal.tenancy.permissions import Perm, require, role_allows


def _no_membership(request: HttpRequest) -> HttpResponse:
    return render(request, "console/no_membership.html", status=403)


def dashboard_context(request: HttpRequest) -> dict[str, Any]:
    role = request.membership.role  # type: ignore[attr-defined]
    context: dict[str, Any] = {"can_calls": role_allows(role, Perm.VIEW_CALLS)}
    if context["can_calls"]:
        count, calls = selectors.live_calls()
        context.update(live_count=count, live_calls=list(calls))
    if role_allows(role, Perm.VIEW_ANALYTICS):
        context.update(
            can_analytics=True,
            today=selectors.today(),
            latency=selectors.latency_last_hour(),
            volume_chart=selectors.volume_by_hour(),
            latency_chart=selectors.latency_by_minute(),
        )
    return context


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    if request.membership is None:  # type: ignore[attr-defined]
        return _no_membership(request)
    return render(request, "console/home.html", dashboard_context(request))


@login_required
@require_GET
def figures(request: HttpRequest) -> HttpResponse:
    """Today's figures and latency, re-fetched by the dashboard every 15 s."""
    require(request.membership, Perm.VIEW_ANALYTICS)  # type: ignore[attr-defined]
    return render(request, "console/_figures.html", dashboard_context(request))


@login_required
@require_GET
def health(request: HttpRequest) -> HttpResponse:
    require(request.membership, Perm.VIEW_CALLS)  # type: ignore[attr-defined]
    return render(request, "console/_health.html", {"regions": inference_health()})

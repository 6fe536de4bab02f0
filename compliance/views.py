"""Compliance console views: parse input, call one service or selector."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from callseal.tenancy.permissions import Perm, require


@login_required
@require_GET
def overview(request: HttpRequest) -> HttpResponse:
    require(request.membership, Perm.VIEW_COMPLIANCE)  # type: ignore[attr-defined]
    return render(request, "compliance/overview.html")

from __future__ import annotations

import uuid

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from calls import selectors
from callseal.tenancy.permissions import Perm, require


@login_required
@require_GET
def call_list(request: HttpRequest) -> HttpResponse:
    require(request.membership, Perm.VIEW_CALLS)  # type: ignore[attr-defined]
    return render(request, "calls/list.html", {"calls": selectors.call_list()})


@login_required
@require_GET
def call_detail(request: HttpRequest, call_id: uuid.UUID) -> HttpResponse:
    require(request.membership, Perm.VIEW_CALLS)  # type: ignore[attr-defined]
    return render(request, "calls/detail.html", {"call": selectors.call_get(call_id=call_id)})

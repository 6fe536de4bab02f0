"""Pending role requests (a second person approves privileged roles) and sign-in unlocks."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from callseal.tenancy.login_throttle import login_unlock
from callseal.tenancy.selectors import role_grant_get, role_grants_pending
from callseal.tenancy.services import role_grant_decide


@login_required
@require_GET
def role_requests(request: HttpRequest) -> HttpResponse:
    grants = role_grants_pending(actor=request.membership)  # type: ignore[attr-defined]
    return render(request, "console/role_requests.html", {"requests": grants})


@login_required
@require_POST
def role_request_decide(request: HttpRequest, grant_id: uuid.UUID) -> HttpResponse:
    role_grant_get(actor=request.membership, grant_id=grant_id)  # type: ignore[attr-defined]
    decision = request.POST.get("decision", "")
    if decision not in ("approve", "reject"):
        messages.error(request, "Choose approve or reject.")
        return redirect("console:role_requests")
    grant = role_grant_decide(
        actor=request.membership,  # type: ignore[attr-defined]
        grant_id=grant_id,
        approve=decision == "approve",
    )
    verb = "Approved" if decision == "approve" else "Rejected"
    messages.success(
        request, f"{verb} the {grant.get_role_display()} role for {grant.user.get_username()}."
    )
    return redirect("console:role_requests")


@login_required
@require_POST
def member_unlock(request: HttpRequest, membership_id: int) -> HttpResponse:
    username = login_unlock(actor=request.membership, membership_id=membership_id)  # type: ignore[attr-defined]
    messages.success(request, f"Unlocked sign-in for {username}.")
    return redirect("console:members")

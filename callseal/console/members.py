"""Users and roles of the active tenant (admins only; checked in the services)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from callseal.console.forms import MemberAddForm, MemberRoleForm
from callseal.tenancy.models import Membership, RoleGrant
from callseal.tenancy.permissions import Perm, require
from callseal.tenancy.selectors import members_locked_out, role_grants_pending
from callseal.tenancy.services import member_add, member_change_role, member_remove


def _page(request: HttpRequest, form: MemberAddForm, status: int = 200) -> HttpResponse:
    actor = request.membership  # type: ignore[attr-defined]
    members = Membership.objects.filter(tenant_id=actor.tenant_id).select_related("user")
    context: dict[str, Any] = {
        "members": members,
        "form": form,
        "role_form": MemberRoleForm(),
        "requests": role_grants_pending(actor=actor),
        "locked": members_locked_out(actor=actor),
    }
    return render(request, "console/members.html", context, status=status)


def _requested(request: HttpRequest, grant: RoleGrant) -> None:
    messages.success(
        request,
        f"Requested the {grant.get_role_display()} role for {grant.user.get_username()}:"
        " it takes effect once a second person approves it.",
    )


@login_required
@require_http_methods(["GET", "POST"])
def members(request: HttpRequest) -> HttpResponse:
    require(request.membership, Perm.MANAGE_USERS)  # type: ignore[attr-defined]
    if request.method == "GET":
        return _page(request, MemberAddForm())
    form = MemberAddForm(request.POST)
    if not form.is_valid():
        return _page(request, form, status=400)
    try:
        added = member_add(actor=request.membership, **form.cleaned_data)  # type: ignore[attr-defined]
    except ValidationError as exc:
        form.add_error(None, exc)
        return _page(request, form, status=400)
    if isinstance(added, RoleGrant):
        _requested(request, added)
    else:
        messages.success(request, f"Added {form.cleaned_data['username']}.")
    return redirect("console:members")


@login_required
@require_POST
def member_role(request: HttpRequest, membership_id: int) -> HttpResponse:
    form = MemberRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a valid role.")
        return redirect("console:members")
    try:
        changed = member_change_role(
            actor=request.membership,  # type: ignore[attr-defined]
            membership_id=membership_id,
            role=form.cleaned_data["role"],
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        if isinstance(changed, RoleGrant):
            _requested(request, changed)
        else:
            messages.success(request, "Role changed.")
    return redirect("console:members")


@login_required
@require_POST
def member_delete(request: HttpRequest, membership_id: int) -> HttpResponse:
    try:
        member_remove(actor=request.membership, membership_id=membership_id)  # type: ignore[attr-defined]
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "Member removed.")
    return redirect("console:members")

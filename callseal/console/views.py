"""Console pages. Views parse input and call one service or selector; no logic here."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from callseal.tenancy.middleware import SESSION_KEY
from callseal.tenancy.permissions import Perm, require
from callseal.tenancy.selectors import membership_get

SECTIONS: dict[str, tuple[str, Perm]] = {
    "analytics": ("Analytics", Perm.VIEW_ANALYTICS),
}


def _no_membership(request: HttpRequest) -> HttpResponse:
    return render(request, "console/no_membership.html", status=403)


@login_required
@require_POST
def tenant_switch(request: HttpRequest) -> HttpResponse:
    raw = request.POST.get("tenant_id", "")
    try:
        tenant_id = uuid.UUID(raw)
    except ValueError:
        return HttpResponseBadRequest("tenant_id must be a tenant identifier")
    membership = membership_get(user=request.user, tenant_id=tenant_id)
    if membership is None:
        # Same answer whether the tenant is missing or merely not yours.
        return render(
            request, "404.html", {"detail": "No such tenant among your memberships."}, status=404
        )
    request.session[SESSION_KEY] = str(membership.tenant_id)
    return redirect("console:home")


@login_required
@require_GET
def section(request: HttpRequest, section: str) -> HttpResponse:
    if request.membership is None:  # type: ignore[attr-defined]
        return _no_membership(request)
    title, perm = SECTIONS[section]
    require(request.membership, perm)  # type: ignore[attr-defined]
    return render(request, "console/section.html", {"title": title, "section": section})


@login_required
@require_GET
def tenant_settings(request: HttpRequest) -> HttpResponse:
    if request.membership is None:  # type: ignore[attr-defined]
        return _no_membership(request)
    require(request.membership, Perm.MANAGE_TENANT)  # type: ignore[attr-defined]
    return render(request, "console/settings.html")


def _error(request: HttpRequest, status: int, title: str, detail: str) -> HttpResponse:
    context: dict[str, Any] = {"title": title, "detail": detail, "status": status}
    return render(request, "error.html", context, status=status)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 400, "Bad request", "The request could not be understood.")


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    detail = str(exception) if exception and str(exception) else "You may not do this."
    return _error(request, 403, "Not allowed", detail)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 404, "Not found", "Nothing here, or nothing you can see.")


def server_error(request: HttpRequest) -> HttpResponse:
    return _error(request, 500, "Something went wrong", "The error was logged.")

"""Sets the current tenant for each console request from the user's active membership."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from callseal.tenancy.context import tenant_context
from callseal.tenancy.selectors import membership_get, memberships_for_user

SESSION_KEY = "callseal_tenant_id"


class TenantMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.membership = None  # type: ignore[attr-defined]
        request.tenant = None  # type: ignore[attr-defined]
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return self.get_response(request)
        membership = None
        raw = request.session.get(SESSION_KEY)
        if raw:
            try:
                membership = membership_get(user=user, tenant_id=uuid.UUID(raw))
            except ValueError:
                membership = None
        if membership is None:
            memberships = memberships_for_user(user=user)
            membership = memberships[0] if memberships else None
            if membership is not None:
                request.session[SESSION_KEY] = str(membership.tenant_id)
        if membership is None:
            return self.get_response(request)
        request.membership = membership  # type: ignore[attr-defined]
        request.tenant = membership.tenant  # type: ignore[attr-defined]
        with tenant_context(membership.tenant):
            return self.get_response(request)

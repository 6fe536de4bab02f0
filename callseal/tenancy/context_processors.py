from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from callseal.tenancy.permissions import ROLE_PERMISSIONS
from callseal.tenancy.selectors import memberships_for_user


def tenancy(request: HttpRequest) -> dict[str, Any]:
    membership = getattr(request, "membership", None)
    user = getattr(request, "user", None)
    if membership is None or user is None or not user.is_authenticated:
        return {"current_tenant": None, "memberships": [], "perms_granted": frozenset()}
    return {
        "current_tenant": membership.tenant,
        "current_membership": membership,
        "memberships": memberships_for_user(user=user),
        "perms_granted": {p.value for p in ROLE_PERMISSIONS.get(membership.role, frozenset())},
    }

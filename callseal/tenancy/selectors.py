"""Reads of the directory, and the access helpers every tenant-owned fetch goes through."""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from django.db import models
from django.http import Http404

from callseal.tenancy.context import TenantRef, current_tenant
from callseal.tenancy.models import LoginThrottle, Membership, RoleGrant, RoleGrantStatus, Tenant

M = TypeVar("M", bound=models.Model)


class TenantNotFound(LookupError):
    pass


def tenant_get_by_slug(*, slug: str) -> Tenant:
    try:
        return Tenant.objects.get(slug=slug)
    except Tenant.DoesNotExist:
        raise TenantNotFound(f"no tenant with slug {slug!r}") from None


def memberships_for_user(*, user: Any) -> list[Membership]:
    return list(Membership.objects.filter(user=user).select_related("tenant"))


def membership_get(*, user: Any, tenant_id: uuid.UUID) -> Membership | None:
    return (
        Membership.objects.filter(user=user, tenant_id=tenant_id).select_related("tenant").first()
    )


def tenant_object_get(model: type[M], *, tenant: TenantRef | None = None, **lookup: object) -> M:
    """Fetch a tenant-owned object, answering the same 404 for missing and foreign rows."""
    ref = tenant or current_tenant()
    try:
        return model._default_manager.get(tenant_id=ref.id, **lookup)
    except (model.DoesNotExist, ValueError, TypeError):  # type: ignore[attr-defined]
        raise Http404(f"No {model._meta.verbose_name} matches the given query.") from None


def role_grants_pending(*, actor: Membership) -> list[RoleGrant]:
    """The actor's tenant's role requests waiting for a decision, newest first."""
    from callseal.tenancy.permissions import Perm, require

    require(actor, Perm.APPROVE_ROLE_GRANTS)
    rows = RoleGrant.objects.filter(tenant_id=actor.tenant_id, status=RoleGrantStatus.PENDING)
    return list(rows.select_related("user", "requested_by"))


def role_grant_get(*, actor: Membership, grant_id: uuid.UUID) -> RoleGrant:
    """A pending role request of the actor's tenant; the same 404 for missing and foreign."""
    found = (
        RoleGrant.objects.select_related("user", "requested_by")
        .filter(id=grant_id, tenant_id=actor.tenant_id, status=RoleGrantStatus.PENDING)
        .first()
    )
    if found is None:
        raise Http404("No pending role request matches the given query.")
    return found


def members_locked_out(*, actor: Membership) -> list[tuple[Membership, LoginThrottle]]:
    """Members of the actor's tenant whose sign-in is locked now, with their lock."""
    from django.utils import timezone

    from callseal.tenancy.login_throttle import account_key

    members = Membership.objects.filter(tenant_id=actor.tenant_id).select_related("user")
    by_key = {account_key(m.user.get_username()): m for m in members}
    locks = LoginThrottle.objects.filter(key__in=by_key, locked_until__gt=timezone.now())
    return [(by_key[lock.key], lock) for lock in locks.order_by("key")]

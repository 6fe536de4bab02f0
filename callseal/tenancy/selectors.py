"""Reads of the directory, and the access helpers every tenant-owned fetch goes through."""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from django.db import models
from django.http import Http404

from callseal.tenancy.context import TenantRef, current_tenant
from callseal.tenancy.models import Membership, Tenant

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

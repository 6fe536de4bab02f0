"""The current tenant, carried in a context variable.

The context travels through HTTP (TenantMiddleware), the Channels scope (TenantScopeMiddleware
and consumers) and Celery task headers (callseal.celery.TenantTask). asgiref's sync_to_async
copies context variables, so database_sync_to_async code sees the same tenant.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


class TenantContextMissing(RuntimeError):
    """Regional data was touched with no tenant in context."""

    def __init__(self) -> None:
        super().__init__(
            "no tenant in context: wrap the call in tenant_context(tenant) "
            "(regional data cannot be read or written without one)"
        )


@dataclass(frozen=True, slots=True)
class TenantRef:
    """What the rest of the process needs to know about the current tenant."""

    id: uuid.UUID
    slug: str
    region: str


_current: ContextVar[TenantRef | None] = ContextVar("callseal_tenant", default=None)


def as_ref(tenant: object) -> TenantRef:
    if isinstance(tenant, TenantRef):
        return tenant
    return TenantRef(id=tenant.id, slug=tenant.slug, region=tenant.region)  # type: ignore[attr-defined]


def current_tenant() -> TenantRef:
    tenant = _current.get()
    if tenant is None:
        raise TenantContextMissing
    return tenant


def current_tenant_or_none() -> TenantRef | None:
    return _current.get()


@contextmanager
def tenant_context(tenant: object) -> Iterator[TenantRef]:
    """Make ``tenant`` (a Tenant or TenantRef) current for the block."""
    ref = as_ref(tenant)
    token = _current.set(ref)
    try:
        yield ref
    finally:
        _current.reset(token)


@contextmanager
def no_tenant_context() -> Iterator[None]:
    token = _current.set(None)
    try:
        yield
    finally:
        _current.reset(token)

"""Scheduled checkpoints: one beat entry per region (settings.CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

from callseal.celery import app
from callseal.ledger.integrity import ledger_integrity_check
from callseal.ledger.signing import checkpoint_create
from callseal.tenancy.context import tenant_context
from callseal.tenancy.models import Tenant


@app.task(name="ledger.checkpoint_region")
def checkpoint_region(region: str) -> int:
    """Checkpoint every tenant of ``region`` whose log grew; return how many were signed."""
    made = 0
    for tenant in Tenant.objects.filter(region=region).order_by("slug"):
        with tenant_context(tenant):
            if checkpoint_create(only_if_grown=True) is not None:
                made += 1
    return made


@app.task(name="ledger.checkpoint_tenant")
def checkpoint_tenant() -> bool:
    """On demand, for the tenant in context (TenantTask carries it)."""
    return checkpoint_create() is not None


@app.task(name="ledger.verify_region")
def verify_region(region: str) -> int:
    """Verify every tenant's log in ``region``; return how many failed (each one logged
    and shown as an alarm)."""
    failed = 0
    for tenant in Tenant.objects.filter(region=region).order_by("slug"):
        with tenant_context(tenant) as ref:
            if not ledger_integrity_check(tenant=ref).ok:
                failed += 1
    return failed

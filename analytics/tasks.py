"""Celery tasks of the analytics app (region queues; see callseal/celery.py)."""

from __future__ import annotations

import uuid

from analytics.agent_test_calls import agent_test_call_run
from analytics.projections import CallAnalyticsProjection
from callseal.celery import app
from callseal.ledger.projections import projection_run
from callseal.tenancy.context import current_tenant, tenant_context
from callseal.tenancy.models import Tenant


@app.task(name="analytics.catch_up_region")
def catch_up_region(region: str) -> int:
    """Apply every tenant's call events not yet projected (beat, every few seconds)."""
    applied = 0
    for tenant in Tenant.objects.filter(region=region).order_by("slug"):
        with tenant_context(tenant):
            applied += projection_run(CallAnalyticsProjection())
    return applied


@app.task(name="analytics.run_test_call")
def run_test_call(test_call_id: str, base_url: str) -> None:
    agent_test_call_run(
        tenant=current_tenant(), test_call_id=uuid.UUID(test_call_id), base_url=base_url
    )

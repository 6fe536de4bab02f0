"""``/metrics`` lines for the ledger's integrity alarm, read from each region's
``IntegrityCheck`` rows at scrape time (the checks run in the region's worker, another
process). Labelled by region only, like every Callseal metric: never a tenant."""

from __future__ import annotations

from django.conf import settings
from prometheus_client import CollectorRegistry, Gauge, generate_latest

from callseal.ledger.models import IntegrityCheck
from callseal.tenancy.context import tenant_context
from callseal.tenancy.models import Tenant


def integrity_metrics() -> bytes:
    """The exposition text of the integrity gauges, per configured region."""
    registry = CollectorRegistry()
    failing = Gauge(
        "callseal_ledger_integrity_failing_tenants",
        "Tenants whose latest scheduled ledger verification failed (an alarm when > 0).",
        ["region"],
        registry=registry,
    )
    checked = Gauge(
        "callseal_ledger_integrity_checked_tenants",
        "Tenants whose ledger has been verified at least once.",
        ["region"],
        registry=registry,
    )
    oldest = Gauge(
        "callseal_ledger_integrity_oldest_check_timestamp_seconds",
        "When the least recently verified tenant's ledger was checked (0: none yet).",
        ["region"],
        registry=registry,
    )
    for region in settings.REGIONS:
        rows: list[IntegrityCheck] = []
        # Row-level security lets a query see one tenant's rows: ask per tenant.
        for tenant in Tenant.objects.filter(region=region).order_by("slug"):
            with tenant_context(tenant) as ref:
                row = IntegrityCheck.objects.filter(tenant_id=ref.id).first()
            if row is not None:
                rows.append(row)
        failing.labels(region=region).set(sum(1 for r in rows if not r.ok))
        checked.labels(region=region).set(len(rows))
        oldest.labels(region=region).set(min((r.checked_at.timestamp() for r in rows), default=0.0))
    return generate_latest(registry)

"""Scheduled integrity checks of every tenant's log, and the alarm they raise.

The region's worker recomputes each tenant's log end to end (``verify_tenant``, the code
``manage.py ledger_verify`` runs) on a schedule (``CALLSEAL_LEDGER_VERIFY_S``); the result
is the tenant's ``IntegrityCheck`` row. A failing one is an alarm: an error in the log, a
banner on the console's dashboard and compliance pages, and ``/metrics``'
``callseal_ledger_integrity_failing_tenants`` (docs/adr/0018).
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from callseal.ledger import store
from callseal.ledger.canonical import leaf_hash
from callseal.ledger.models import IntegrityCheck
from callseal.ledger.store import StoredRecord
from callseal.ledger.verify import verify_tenant
from callseal.tenancy.context import TenantRef, current_tenant

log = logging.getLogger(__name__)


def ledger_integrity_check(*, tenant: TenantRef) -> IntegrityCheck:
    """Verify ``tenant``'s whole log now and record the outcome (the alarm's source)."""
    report = verify_tenant(tenant)
    now = timezone.now()
    fault = report.fault
    with transaction.atomic(using=store.alias_for(tenant)):
        check = IntegrityCheck.objects.select_for_update().filter(tenant_id=tenant.id).first()
        if check is None:
            check = IntegrityCheck(tenant_id=tenant.id)
        was_failing = check.pk is not None and not check.ok
        check.checked_at = now
        check.ok = fault is None
        check.events = report.events
        check.fault_sequence = fault.sequence if fault else None
        check.fault = fault.describe(tenant.slug) if fault else ""
        check.failing_since = (check.failing_since if was_failing else now) if fault else None
        check.save()
    if fault is not None:
        log.error("ledger integrity check FAILED: %s", check.fault)
    return check


def integrity_alarm() -> IntegrityCheck | None:
    """The current tenant's failing check, if its latest one failed."""
    return IntegrityCheck.objects.filter(tenant_id=current_tenant().id, ok=False).first()


def record_fault(record: StoredRecord) -> str | None:
    """Why one stored event fails verification on its own, or None: its bytes must hash
    to its stored leaf hash (a changed payload, metadata, type, time or link does not)."""
    if leaf_hash(record.canonical_fields().encode()) != record.leaf_hash:
        return "fails verification: the stored event differs from what was hashed"
    return None

"""What of one call the console may still show, given erasure, retention and legal holds.

A completed erasure destroys the caller's keys: the raw words are gone from the ledger, and
the redacted words (kept in clear so that the timeline stays readable) must no longer be
shown either. Redacted transcripts past the tenant's retention are withheld the same way,
unless a legal hold keeps them (docs/adr/0015-compliance-console.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from calls.models import Call
from callseal.tenancy.context import current_tenant
from compliance.holds import active_holds
from compliance.models import DataClass, ErasureRequest, ErasureStatus, LegalHold
from compliance.retention import retention_days_for_current_tenant

ERASED = "erased with the caller"
EXPIRED = "removed by the retention policy"


@dataclass(frozen=True, slots=True)
class CallDataState:
    erasure: ErasureRequest | None  # the completed erasure that covered this call's caller
    transcript_retention_days: int | None  # set when the redacted transcript is past it
    holds: tuple[LegalHold, ...]  # active holds covering the call

    @property
    def withheld(self) -> str:
        """Why the call's words are not shown, or "" when they may be."""
        if self.erasure is not None:
            return ERASED
        if self.transcript_retention_days is not None:
            return EXPIRED
        return ""


def call_data_state(*, call: Call, now: datetime | None = None) -> CallDataState:
    """The current tenant's view of ``call`` (already fetched through a tenant-scoped
    access helper)."""
    tenant = current_tenant()
    erasure = None
    if call.subject_ref:
        # An erasure destroys every key the caller had when it ran, so it covers the calls
        # that started before it completed; a later call by the same number is new data.
        erasure = (
            ErasureRequest.objects.filter(
                tenant_id=tenant.id,
                subject_ref=call.subject_ref,
                status=ErasureStatus.COMPLETED,
                completed_at__gte=call.started_at,
            )
            .order_by("completed_at")
            .first()
        )
    holds = tuple(active_holds().covering(call_id=call.id, subject_ref=call.subject_ref or None))
    days = retention_days_for_current_tenant().get(DataClass.REDACTED_TRANSCRIPTS)
    expired = None
    if days is not None and not holds:
        last = call.ended_at or call.started_at
        if last < (now or timezone.now()) - timedelta(days=days):
            expired = days
    return CallDataState(erasure=erasure, transcript_retention_days=expired, holds=holds)

"""Retention per data class, enforced by crypto-shredding (docs/adr/0009).

What shredding means per class (``retention_days`` in the tenant's policies):

- recordings: the recording's KEK row is deleted and its file unlinked; age from the start
  of the recording. Originals and redacted copies alike.
- raw_transcripts, redacted_transcripts, personal_fields: the call-scoped ledger key of that
  class (compliance.datakeys) is destroyed; the sealed fields read as ERASED, the events,
  hashes and checkpoints stay. Age from the key's last use (in practice the call's end).
- the subject's own key (personal fields not tied to a call, and the key that wraps the
  subject's recording KEKs) is destroyed when personal_fields is due by the subject's last
  activity *and* none of the subject's recordings is still kept.

Anything a legal hold covers (tenant, call or subject) is skipped and counted. Each class
with something shredded gets one ``retention.shredded`` event (with the skipped count).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils import timezone

from callseal.crypto.services import subject_key_destroy
from callseal.ledger.envelope import record, regional_write
from callseal.tenancy.context import current_tenant
from callseal.tenancy.models import Tenant
from compliance.events import RetentionShredded
from compliance.holds import ActiveHolds, active_holds
from compliance.models import DataClass, DataKey, Recording, RecordingStatus
from compliance.recording.services import recording_shred

# Bounds one transaction; the next scheduled run continues where this one stopped.
BATCH = 500
ACTOR = "system:retention"


@dataclass
class RetentionReport:
    shredded: dict[str, list[str]] = field(default_factory=dict)
    skipped_on_hold: dict[str, int] = field(default_factory=dict)


def retention_days_for_current_tenant() -> dict[str, int]:
    tenant = Tenant.objects.get(id=current_tenant().id)
    days = (tenant.policies or {}).get("retention_days") or {}
    return {k: int(v) for k, v in days.items() if k in DataClass.values}


def retention_run(*, now: datetime | None = None) -> RetentionReport:
    """Shred everything of the current tenant whose retention has passed, except held data."""
    now = now or timezone.now()
    days = retention_days_for_current_tenant()
    holds = active_holds()
    report = RetentionReport()
    if DataClass.RECORDINGS in days:
        _recordings(days[DataClass.RECORDINGS], now, holds, report)
    for data_class in (
        DataClass.RAW_TRANSCRIPTS,
        DataClass.REDACTED_TRANSCRIPTS,
        DataClass.PERSONAL_FIELDS,
    ):
        if data_class in days:
            _keys(data_class, days[data_class], now, holds, report)
    return report


def _record(
    report: RetentionReport,
    data_class: str,
    days: int,
    cutoff: datetime,
    *,
    recordings: list[str],
    keys: list[str],
    held: int,
) -> None:
    report.shredded[data_class] = recordings + keys
    report.skipped_on_hold[data_class] = held
    # Skipping is not an action: a held item would otherwise add an event every run.
    if not (recordings or keys):
        return
    record(
        stream_id="compliance-retention",
        events=[
            RetentionShredded(
                data_class=data_class,
                retention_days=days,
                cutoff=cutoff.isoformat(),
                recordings=recordings,
                keys=keys,
                skipped_on_hold=held,
            )
        ],
        actor=ACTOR,
    )


def _recordings(days: int, now: datetime, holds: ActiveHolds, report: RetentionReport) -> None:
    tenant = current_tenant()
    cutoff = now - timedelta(days=days)
    due = Recording.objects.filter(
        tenant_id=tenant.id,
        status__in=[RecordingStatus.FINISHED, RecordingStatus.RECORDING],
        started_at__lt=cutoff,
    ).order_by("started_at")[:BATCH]
    shredded: list[str] = []
    held = 0
    with regional_write():
        for recording in due:
            if holds.covers(call_id=recording.call_id, subject_ref=recording.subject_ref):
                held += 1
                continue
            recording_shred(recording=recording, reason="retention")
            shredded.append(str(recording.id))
        _record(report, DataClass.RECORDINGS, days, cutoff, recordings=shredded, keys=[], held=held)


def _keys(
    data_class: str, days: int, now: datetime, holds: ActiveHolds, report: RetentionReport
) -> None:
    tenant = current_tenant()
    cutoff = now - timedelta(days=days)
    due = DataKey.objects.filter(
        tenant_id=tenant.id,
        data_class=data_class,
        destroyed_at__isnull=True,
        last_used_at__lt=cutoff,
    ).order_by("last_used_at")[:BATCH]
    destroyed: list[str] = []
    held = 0
    with regional_write():
        for key in due:
            if holds.covers(call_id=key.call_id, subject_ref=key.subject_ref) or (
                key.call_id is None and holds.covering_subject(subject_ref=key.subject_ref)
            ):
                # The subject's own key also seals each of its calls' number: a hold on any
                # of those calls keeps it.
                held += 1
                continue
            if key.call_id is None and _keeps_recordings(key.subject_ref):
                continue  # the subject key still wraps kept recordings' KEKs
            subject_key_destroy(key.key_ref)
            DataKey.objects.filter(pk=key.pk).update(
                destroyed_at=now, destroyed_reason=f"retention:{data_class}"[:32]
            )
            destroyed.append(key.key_ref)
        _record(report, data_class, days, cutoff, recordings=[], keys=destroyed, held=held)


def _keeps_recordings(subject_ref: str) -> bool:
    return Recording.objects.filter(
        tenant_id=current_tenant().id,
        subject_ref=subject_ref,
        status__in=[RecordingStatus.FINISHED, RecordingStatus.RECORDING],
    ).exists()

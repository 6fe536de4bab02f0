"""Reads of the audit trail: search pages, a call's timeline, the access log, export input.

Generic over every registered event type: rows show type, stream, actor, subject, time and
the event's non-personal fields (redacted text included, where the type carries it);
personal fields show only as sealed or erased. Pagination is keyset on the tenant's
sequence (index ``(tenant_id, sequence)``), never OFFSET.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet

from callseal.ledger.integrity import record_fault
from callseal.ledger.models import Event
from callseal.ledger.reading import SEALED_KEY
from callseal.ledger.registry import spec_for
from callseal.ledger.store import StoredRecord
from callseal.tenancy.context import current_tenant
from compliance.audit.filters import AuditFilter, call_stream_ids

PAGE_SIZE = 50
CHUNK = 5000
MAX_TIMELINE = 2000
ERASURE_TYPE = "subject.erased"
ACCESS_TYPE_PREFIXES = ("audit.",)
ACCESS_TYPE_SUFFIXES = (".accessed", ".played", ".downloaded")
_COLUMNS = (
    "tenant_id",
    "sequence",
    "stream_id",
    "stream_version",
    "event_id",
    "type",
    "schema_version",
    "subject_ref",
    "payload",
    "metadata",
    "recorded_at",
    "prev_hash",
    "leaf_hash",
)


def _record(row: tuple[Any, ...]) -> StoredRecord:
    return StoredRecord(
        tenant_id=row[0],
        sequence=row[1],
        stream_id=row[2],
        stream_version=row[3],
        event_id=row[4],
        type=row[5],
        schema_version=row[6],
        subject_ref=row[7],
        payload_json=row[8],
        metadata_json=row[9],
        recorded_at=row[10],
        prev_hash=bytes(row[11]),
        leaf_hash=bytes(row[12]),
    )


def _events() -> QuerySet[Event]:
    return Event.objects.filter(tenant_id=current_tenant().id)


def _json_str(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _narrow(f: AuditFilter) -> Q:
    """SQL that selects a superset of the filter's events using indexed columns where it can;
    ``_exact`` then decides on the canonical metadata text (SQLite's LIKE ignores case)."""
    q = Q()
    if f.start:
        q &= Q(recorded_at__gte=f.start)
    if f.end:
        q &= Q(recorded_at__lt=f.end)
    if f.types:
        q &= Q(type__in=f.types)
    if f.actor:
        q &= Q(metadata__contains=f'"actor":{_json_str(f.actor)},')
    if f.subject_ref:
        q &= Q(subject_ref=f.subject_ref) | Q(stream_id=f"subject-{f.subject_ref}")
    if f.call:
        q &= Q(stream_id__in=call_stream_ids(f.call)) | Q(
            metadata__contains=f'"correlation_id":{_json_str(f.call)},'
        )
    return q


def _exact(f: AuditFilter, record: StoredRecord) -> bool:
    if not (f.actor or f.call):
        return True
    try:
        metadata = json.loads(record.metadata_json)
    except json.JSONDecodeError:
        return True  # a tampered event: shown (as failing verification) rather than hidden
    if not isinstance(metadata, dict):
        return True
    if f.actor and metadata.get("actor") != f.actor:
        return False
    return not (
        f.call
        and record.stream_id not in call_stream_ids(f.call)
        and metadata.get("correlation_id") != f.call
    )


def matching_records(
    f: AuditFilter,
    *,
    after: int = 0,
    before: int | None = None,
    up_to: int | None = None,
    descending: bool = False,
    chunk: int = CHUNK,
) -> Iterator[StoredRecord]:
    """Every event matching ``f``, streamed in chunks by keyset on the sequence."""
    query = _events().filter(_narrow(f))
    if up_to is not None:
        query = query.filter(sequence__lte=up_to)
    position = before if descending else after
    while True:
        page = query
        if descending and position is not None:
            page = page.filter(sequence__lt=position)
        elif not descending and position:
            page = page.filter(sequence__gt=position)
        order = "-sequence" if descending else "sequence"
        rows = list(page.order_by(order).values_list(*_COLUMNS)[:chunk])
        for row in rows:
            record = _record(row)
            if _exact(f, record):
                yield record
        if len(rows) < chunk:
            return
        position = rows[-1][1]


@dataclass(frozen=True, slots=True)
class AuditRow:
    """One event as the audit console shows it: no personal data in clear."""

    sequence: int
    recorded_at: datetime
    type: str
    schema_version: int
    stream_id: str
    actor: str
    region: str
    subject_ref: str | None
    details: dict[str, Any]  # non-personal fields as stored
    sealed: list[str]  # personal fields (ciphertext in the ledger)
    fault: str = ""  # why the stored event fails verification (then nothing else is shown)


def audit_row(record: StoredRecord) -> AuditRow:
    fault = record_fault(record)
    if fault is not None:
        # A tampered event is shown as such, never parsed: its text may be anything.
        return AuditRow(
            sequence=record.sequence,
            recorded_at=record.recorded_at,
            type=record.type,
            schema_version=record.schema_version,
            stream_id=record.stream_id,
            actor="",
            region="",
            subject_ref=record.subject_ref,
            details={},
            sealed=[],
            fault=fault,
        )
    payload = json.loads(record.payload_json)
    metadata = json.loads(record.metadata_json)
    spec = spec_for(record.type, record.schema_version)
    personal = spec.personal if spec is not None else frozenset()
    sealed = sorted(
        name
        for name, value in payload.items()
        if name in personal or (isinstance(value, dict) and SEALED_KEY in value)
    )
    details = {k: v for k, v in payload.items() if k not in sealed}
    return AuditRow(
        sequence=record.sequence,
        recorded_at=record.recorded_at,
        type=record.type,
        schema_version=record.schema_version,
        stream_id=record.stream_id,
        actor=str(metadata.get("actor", "")),
        region=str(metadata.get("region", "")),
        subject_ref=record.subject_ref,
        details=details,
        sealed=sealed,
    )


@dataclass(frozen=True, slots=True)
class AuditPage:
    rows: list[AuditRow]
    next_before: int | None  # pass as ``before`` for the next (older) page


def audit_search(
    *, audit_filter: AuditFilter, before: int | None = None, limit: int = PAGE_SIZE
) -> AuditPage:
    """A page of matching events, newest first, older than sequence ``before``."""
    if not 1 <= limit <= 500:
        raise ValueError("limit must be 1-500")
    rows: list[AuditRow] = []
    for record in matching_records(
        audit_filter, before=before, descending=True, chunk=max(limit + 1, 200)
    ):
        rows.append(audit_row(record))
        if len(rows) > limit:
            break
    more = len(rows) > limit
    rows = rows[:limit]
    return AuditPage(rows=rows, next_before=rows[-1].sequence if more else None)


def audit_call_timeline(*, call: str) -> list[AuditRow]:
    """A call's events in order, then the erasures of the data subjects it involved."""
    rows = [
        audit_row(r)
        for _, r in zip(range(MAX_TIMELINE), matching_records(AuditFilter(call=call)), strict=False)
    ]
    subjects = sorted({r.subject_ref for r in rows if r.subject_ref})
    if subjects:
        erasures = _events().filter(
            type=ERASURE_TYPE,
            stream_id__in=[f"subject-{s}" for s in subjects],
        )
        rows += [
            audit_row(_record(row)) for row in erasures.order_by("sequence").values_list(*_COLUMNS)
        ]
    return sorted(rows, key=lambda r: r.sequence)


def audit_access_log(*, before: int | None = None, limit: int = PAGE_SIZE) -> AuditPage:
    """Who accessed what: audit searches and exports, and every ``*.accessed`` event."""
    q = Q()
    for prefix in ACCESS_TYPE_PREFIXES:
        q |= Q(type__startswith=prefix)
    for suffix in ACCESS_TYPE_SUFFIXES:
        q |= Q(type__endswith=suffix)
    query = _events().filter(q)
    if before is not None:
        query = query.filter(sequence__lt=before)
    records = [_record(r) for r in query.order_by("-sequence").values_list(*_COLUMNS)[: limit + 1]]
    rows = [audit_row(r) for r in records[:limit]]
    more = len(records) > limit
    return AuditPage(rows=rows, next_before=rows[-1].sequence if more else None)


def erasure_records(*, subject_refs: set[str], up_to: int) -> list[StoredRecord]:
    """The ``subject.erased`` events of these subjects, up to sequence ``up_to``."""
    found: list[StoredRecord] = []
    refs = sorted(subject_refs)
    for start in range(0, len(refs), 500):
        streams = [f"subject-{s}" for s in refs[start : start + 500]]
        query = _events().filter(type=ERASURE_TYPE, stream_id__in=streams, sequence__lte=up_to)
        found += [_record(r) for r in query.values_list(*_COLUMNS)]
    return sorted(found, key=lambda r: r.sequence)


def leaf_hashes(*, tree_size: int, chunk: int = 20_000) -> Iterator[bytes]:
    """The first ``tree_size`` leaf hashes in order, two columns read per row."""
    position = 0
    while position < tree_size:
        rows = list(
            _events()
            .filter(sequence__gt=position, sequence__lte=tree_size)
            .order_by("sequence")
            .values_list("sequence", "leaf_hash")[:chunk]
        )
        if not rows:
            break
        for sequence, leaf in rows:
            position += 1
            if sequence != position:
                raise ValueError(f"the log has no event {position}")
            yield bytes(leaf)
    if position != tree_size:
        raise ValueError(f"the log holds {position} events, not {tree_size}")


RECENT_EXPORTS = 20


def audit_exports_recent(*, limit: int = RECENT_EXPORTS) -> list[Any]:
    """The current tenant's latest export requests, newest first."""
    from compliance.audit.models import AuditExport

    rows = AuditExport.objects.filter(tenant_id=current_tenant().id).order_by("-created_at")
    return list(rows[:limit])

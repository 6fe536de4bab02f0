"""The low-level event store: locked, hash-chained, batched appends and streaming reads.

Services (callseal.ledger.services) validate and encrypt; this module only stores records
exactly as hashed. Per-tenant order comes from locking the tenant's head row
(``SELECT ... FOR UPDATE`` on PostgreSQL), so different tenants append in parallel. On
SQLite a write transaction serialises the whole database anyway: the append's first
statement is a write (so the busy timeout applies instead of a failed lock upgrade), and
writers within one process queue on a lock instead of spinning.

Hot paths use raw SQL through Django's connection (so row-level security and the app role
still apply). PostgreSQL appends go through callseal.ledger.pgappend (one function call locks
the head and, when this process guessed the head right, inserts the batch); SQLite locks the
head with a write, inserts multi-row, and moves the head.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import DatabaseError, IntegrityError, connections, transaction
from psycopg.types.datetime import TimestamptzLoader

from callseal.ledger import pgappend
from callseal.ledger.canonical import (
    GENESIS_HASH,
    BatchEncoder,
    CanonicalFields,
    format_time,
    leaf_hash,
)
from callseal.ledger.merkle import CompactRange
from callseal.tenancy.context import TenantRef
from callseal.tenancy.router import region_alias

EVENT_COLUMNS = (
    "tenant_id, sequence, stream_id, stream_version, event_id, type, schema_version, "
    "subject_ref, payload, metadata, recorded_at, prev_hash, leaf_hash"
)
_N_COLUMNS = 13
_sqlite_locks: dict[str, threading.RLock] = {}
_sqlite_locks_guard = threading.Lock()


class ConcurrencyError(RuntimeError):
    """The stream moved since the caller read it (stale expected version)."""

    def __init__(self, stream_id: str, expected: int, actual: int) -> None:
        super().__init__(
            f"stream {stream_id!r} is at version {actual}, not the expected {expected}"
        )
        self.stream_id, self.expected, self.actual = stream_id, expected, actual


class DuplicateEvent(IntegrityError):
    """A stream version or event id already stored (explicit-version appends)."""


@dataclass(frozen=True, slots=True)
class Prepared:
    """One event ready to store: validated, encrypted, serialised canonically."""

    event_id: uuid.UUID
    type: str
    schema_version: int
    subject_ref: str | None
    payload_json: str
    metadata_json: str
    stream_id: str = ""
    stream_version: int = 0  # explicit versions only (append_exact)


@dataclass(frozen=True, slots=True)
class StoredRecord:
    tenant_id: uuid.UUID
    sequence: int
    stream_id: str
    stream_version: int
    event_id: uuid.UUID
    type: str
    schema_version: int
    subject_ref: str | None
    payload_json: str
    metadata_json: str
    recorded_at: datetime
    prev_hash: bytes
    leaf_hash: bytes

    def canonical_fields(self) -> CanonicalFields:
        return CanonicalFields(
            tenant=str(self.tenant_id),
            seq=self.sequence,
            stream=self.stream_id,
            stream_version=self.stream_version,
            event_id=str(self.event_id),
            type=self.type,
            schema_version=self.schema_version,
            subject=self.subject_ref,
            payload_json=self.payload_json,
            metadata_json=self.metadata_json,
            recorded_at=format_time(self.recorded_at),
            prev=self.prev_hash,
        )


@dataclass(frozen=True, slots=True)
class Head:
    sequence: int
    last_hash: bytes
    compact: CompactRange


def alias_for(tenant: TenantRef) -> str:
    return region_alias(tenant.region)


def _sqlite_lock(alias: str) -> threading.RLock:
    with _sqlite_locks_guard:
        return _sqlite_locks.setdefault(alias, threading.RLock())


@contextmanager
def writing(alias: str) -> Iterator[None]:
    """Hold around a whole write transaction that appends (services do): on SQLite, writers
    of this process queue here until commit instead of failing on a busy database."""
    if connections[alias].vendor == "sqlite":
        with _sqlite_lock(alias):
            yield
    else:
        yield


def read_guard(alias: str) -> Any:
    """In-memory SQLite (the test databases) shares one cache between threads, where a read
    during another thread's write fails at once instead of waiting: queue reads too."""
    conn = connections[alias]
    if conn.vendor == "sqlite" and conn.is_in_memory_db():  # type: ignore[attr-defined]
        return _sqlite_lock(alias)
    return nullcontext()


class _Codec:
    """Python values <-> this vendor's column values for raw SQL."""

    def __init__(self, alias: str) -> None:
        conn = connections[alias]
        self.pg = conn.vendor == "postgresql"
        self.ops = conn.ops

    def uuid_param(self, value: uuid.UUID) -> Any:
        return value if self.pg else value.hex

    def time_param(self, value: datetime) -> Any:
        return value if self.pg else self.ops.adapt_datetimefield_value(value)

    def to_uuid(self, value: Any) -> uuid.UUID:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(value)

    def to_time(self, value: Any) -> datetime:
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=UTC)
        return datetime.fromisoformat(value).replace(tzinfo=UTC)

    def record(self, row: Sequence[Any]) -> StoredRecord:
        return StoredRecord(
            tenant_id=self.to_uuid(row[0]),
            sequence=row[1],
            stream_id=row[2],
            stream_version=row[3],
            event_id=self.to_uuid(row[4]),
            type=row[5],
            schema_version=row[6],
            subject_ref=row[7],
            payload_json=row[8],
            metadata_json=row[9],
            recorded_at=self.to_time(row[10]),
            prev_hash=bytes(row[11]),
            leaf_hash=bytes(row[12]),
        )


def _lock_head(
    cursor: Any, codec: _Codec, tenant_id: uuid.UUID, stream_id: str | None
) -> tuple[Head, int]:
    """Lock (creating if needed) the tenant's head; also read ``stream_id``'s version."""
    tid = codec.uuid_param(tenant_id)
    stream_sql = (
        "(SELECT max(stream_version) FROM ledger_event e"
        " WHERE e.tenant_id = h.tenant_id AND e.stream_id = %s)"
        if stream_id is not None
        else "NULL"
    )
    params: list[Any] = [stream_id] if stream_id is not None else []
    lock = " FOR UPDATE" if codec.pg else ""
    select = (
        f"SELECT h.sequence, h.last_hash, h.frontier, {stream_sql} FROM ledger_tenanthead h"  # noqa: S608 - constants and placeholders only
        f" WHERE h.tenant_id = %s{lock}"
    )
    if not codec.pg:
        # Take SQLite's write lock first, so the busy timeout (not an error) handles waiting.
        cursor.execute(
            "UPDATE ledger_tenanthead SET sequence = sequence WHERE tenant_id = %s", [tid]
        )
    cursor.execute(select, [*params, tid])
    row = cursor.fetchone()
    if row is None:
        cursor.execute(
            "INSERT INTO ledger_tenanthead (tenant_id, sequence, last_hash, frontier)"
            " VALUES (%s, 0, %s, %s) ON CONFLICT (tenant_id) DO NOTHING",
            [tid, GENESIS_HASH, b""],
        )
        cursor.execute(select, [*params, tid])
        row = cursor.fetchone()
    head = Head(row[0], bytes(row[1]), CompactRange.unpack(row[0], bytes(row[2])))
    return head, int(row[3] or 0)


def _stored_by_event_ids(
    tenant: TenantRef, event_ids: Sequence[uuid.UUID]
) -> list[StoredRecord] | None:
    """All of these events if every one is stored (an idempotent retry), else None."""
    alias = alias_for(tenant)
    codec = _Codec(alias)
    with read_guard(alias), connections[alias].cursor() as cursor:
        placeholders = ", ".join(["%s"] * len(event_ids))
        cursor.execute(
            f"SELECT {EVENT_COLUMNS} FROM ledger_event WHERE tenant_id = %s"  # noqa: S608 - constants and placeholders only
            f" AND event_id IN ({placeholders}) ORDER BY sequence",
            [codec.uuid_param(tenant.id), *[codec.uuid_param(e) for e in event_ids]],
        )
        rows = [codec.record(row) for row in cursor.fetchall()]
    if len(rows) != len(event_ids):
        return None
    by_id = {record.event_id: record for record in rows}
    return [by_id[e] for e in event_ids]


def _chain(
    tenant: TenantRef, head: Head, records: list[Prepared], versions: list[int], now: datetime
) -> tuple[list[StoredRecord], CompactRange]:
    """Hash ``records`` onto the chain after ``head``; also advance its compact range."""
    encoder = BatchEncoder(tenant=str(tenant.id), recorded_at=format_time(now))
    prev = head.last_hash
    seq = head.sequence
    compact = head.compact
    stored: list[StoredRecord] = []
    for item, version in zip(records, versions, strict=True):
        seq += 1
        leaf = leaf_hash(
            encoder.encode(
                seq,
                item.stream_id,
                version,
                str(item.event_id),
                item.type,
                item.schema_version,
                item.subject_ref,
                item.payload_json,
                item.metadata_json,
                prev,
            )
        )
        compact.append(leaf)
        stored.append(
            StoredRecord(
                tenant.id,
                seq,
                item.stream_id,
                version,
                item.event_id,
                item.type,
                item.schema_version,
                item.subject_ref,
                item.payload_json,
                item.metadata_json,
                now,
                prev,
                leaf,
            )
        )
        prev = leaf
    return stored, compact


def _insert_sqlite(
    cursor: Any,
    codec: _Codec,
    tenant: TenantRef,
    head: Head,
    records: list[Prepared],
    versions: list[int],
) -> list[StoredRecord]:
    now = datetime.now(UTC)
    stored, compact = _chain(tenant, head, records, versions, now)
    tid = codec.uuid_param(tenant.id)
    when = codec.time_param(now)
    step = 999 // _N_COLUMNS  # SQLite's default limit on host parameters
    row_sql = "(" + ", ".join(["%s"] * _N_COLUMNS) + ")"
    for start in range(0, len(stored), step):
        chunk = stored[start : start + step]
        params: list[Any] = []
        for r in chunk:
            params += [
                tid,
                r.sequence,
                r.stream_id,
                r.stream_version,
                codec.uuid_param(r.event_id),
                r.type,
                r.schema_version,
                r.subject_ref,
                r.payload_json,
                r.metadata_json,
                when,
                r.prev_hash,
                r.leaf_hash,
            ]
        cursor.execute(
            f"INSERT INTO ledger_event ({EVENT_COLUMNS}) VALUES "  # noqa: S608 - constants and placeholders only
            + ", ".join([row_sql] * len(chunk)),
            params,
        )
    cursor.execute(
        "UPDATE ledger_tenanthead SET sequence = %s, last_hash = %s, frontier = %s"
        " WHERE tenant_id = %s",
        [stored[-1].sequence, stored[-1].leaf_hash, compact.pack(), tid],
    )
    return stored


def _append_sqlite(
    tenant: TenantRef,
    records: list[Prepared],
    stream_id: str | None,
    versions_for: Callable[[int], list[int]],
) -> list[StoredRecord]:
    alias = alias_for(tenant)
    codec = _Codec(alias)
    with writing(alias), transaction.atomic(using=alias):
        cursor = connections[alias].cursor()
        head, stream_version = _lock_head(cursor, codec, tenant.id, stream_id)
        return _insert_sqlite(cursor, codec, tenant, head, records, versions_for(stream_version))


# This process's last append per (alias, tenant): (sequence, last hash, packed frontier), and
# the versions of streams it appended to. Only guesses: pgappend checks them under the lock,
# so a stale entry (another process appended, a transaction rolled back) costs one round trip.
_head_guess: dict[tuple[str, uuid.UUID], tuple[int, bytes, bytes]] = {}
_version_guess: dict[tuple[str, uuid.UUID, str], int] = {}
_MAX_VERSION_GUESSES = 100_000


def _batch(stored: list[StoredRecord], compact: CompactRange, now: datetime) -> pgappend.Batch:
    columns: tuple[list[Any], ...] = tuple([] for _ in range(11))
    (seqs, streams, versions, ids, types, schemas, subjects, payloads, metas, prevs, leaves) = (
        columns
    )
    for r in stored:
        seqs.append(r.sequence)
        streams.append(r.stream_id)
        versions.append(r.stream_version)
        ids.append(r.event_id)
        types.append(r.type)
        schemas.append(r.schema_version)
        subjects.append(r.subject_ref)
        payloads.append(r.payload_json)
        metas.append(r.metadata_json)
        prevs.append(r.prev_hash)
        leaves.append(r.leaf_hash)
    return pgappend.Batch(columns, now, (stored[-1].sequence, stored[-1].leaf_hash, compact.pack()))


def _remember_on_commit(
    alias: str, tenant: TenantRef, stored: list[StoredRecord], frontier: bytes
) -> None:
    """Guess from this append once it is committed: a guess must never be ahead of what a
    later statement's snapshot can see (see pgappend)."""

    def remember() -> None:
        _head_guess[(alias, tenant.id)] = (stored[-1].sequence, stored[-1].leaf_hash, frontier)
        if len(_version_guess) >= _MAX_VERSION_GUESSES:
            _version_guess.clear()
        for record in stored:
            _version_guess[(alias, tenant.id, record.stream_id)] = record.stream_version

    transaction.on_commit(remember, using=alias)


def _append_pg(
    tenant: TenantRef,
    records: list[Prepared],
    *,
    stream_id: str | None,
    expected_version: int | None,
    exact: bool,
) -> list[StoredRecord]:
    """See callseal.ledger.pgappend. Stale versions and retries are recognised under the
    lock, before any statement can fail, so ``append`` needs no savepoint; ``append_exact``
    keeps one because the adapter expects a unique violation to leave its caller's
    transaction usable."""
    alias = alias_for(tenant)
    ids = [] if exact else [r.event_id for r in records]

    def hashed(
        sequence: int, last_hash: bytes, frontier: bytes, version: int
    ) -> tuple[list[StoredRecord], pgappend.Batch]:
        head = Head(sequence, last_hash, CompactRange.unpack(sequence, frontier))
        versions = (
            [r.stream_version for r in records]
            if exact
            else list(range(version + 1, version + 1 + len(records)))
        )
        now = datetime.now(UTC)
        stored, compact = _chain(tenant, head, records, versions, now)
        return stored, _batch(stored, compact, now)

    with transaction.atomic(using=alias, savepoint=exact):
        speculation, guessed = None, None
        guess = None if exact else _head_guess.get((alias, tenant.id))
        if guess is not None:
            assert stream_id is not None
            version = expected_version
            if version is None:
                version = _version_guess.get((alias, tenant.id, stream_id), 0)
            guessed = hashed(*guess, version)
            speculation = pgappend.Speculation(guess[0], guess[1], version, guessed[1])
        locked = pgappend.lock(
            alias,
            tenant_id=tenant.id,
            stream_id=stream_id,
            event_ids=ids,
            speculation=speculation,
        )
        if locked.applied and guessed is not None:
            _remember_on_commit(alias, tenant, guessed[0], guessed[1].head[2])
            return guessed[0]
        if not locked.known and expected_version in (None, locked.version):
            stored, batch = hashed(
                locked.sequence, locked.last_hash, locked.frontier, locked.version
            )
            pgappend.insert(alias, tenant_id=tenant.id, batch=batch)
            _remember_on_commit(alias, tenant, stored, batch.head[2])
            return stored
    # Nothing failed in the database, so the caller's transaction is still usable here.
    if locked.known == len(ids):
        retried = _stored_by_event_ids(tenant, ids)
        assert retried is not None
        return retried
    if locked.known:
        raise DuplicateEvent(f"{locked.known} of these {len(ids)} event ids are stored already")
    assert stream_id is not None
    assert expected_version is not None
    raise ConcurrencyError(stream_id, expected_version, locked.version)


def append(
    *, tenant: TenantRef, stream_id: str, expected_version: int | None, records: list[Prepared]
) -> list[StoredRecord]:
    """Append ``records`` to one stream in one transaction; idempotent on event ids.

    ``expected_version`` None appends after whatever is there; an int must equal the
    stream's current version (0: the stream must be new) or ConcurrencyError is raised.
    """
    if not records:
        return []

    def versions_for(current: int) -> list[int]:
        if expected_version is not None and expected_version != current:
            raise ConcurrencyError(stream_id, expected_version, current)
        return list(range(current + 1, current + 1 + len(records)))

    records = [
        Prepared(
            r.event_id,
            r.type,
            r.schema_version,
            r.subject_ref,
            r.payload_json,
            r.metadata_json,
            stream_id,
        )
        for r in records
    ]
    if _Codec(alias_for(tenant)).pg:
        return _append_pg(
            tenant, records, stream_id=stream_id, expected_version=expected_version, exact=False
        )
    try:
        return _append_sqlite(tenant, records, stream_id, versions_for)
    except (ConcurrencyError, IntegrityError):
        # A retry of an append that already succeeded returns what was stored.
        stored = _stored_by_event_ids(tenant, [r.event_id for r in records])
        if stored is not None:
            return stored
        raise


def append_exact(*, tenant: TenantRef, records: list[Prepared]) -> list[StoredRecord]:
    """Append records that carry their own stream ids and versions (the eventsourcing
    adapter). A taken (stream, version) or event id raises DuplicateEvent; nothing is stored."""
    if not records:
        return []
    try:
        if _Codec(alias_for(tenant)).pg:
            return _append_pg(tenant, records, stream_id=None, expected_version=None, exact=True)
        return _append_sqlite(tenant, records, None, lambda _: [r.stream_version for r in records])
    except DuplicateEvent:
        raise
    except IntegrityError as exc:
        raise DuplicateEvent(str(exc)) from exc


def head(tenant: TenantRef) -> Head:
    alias = alias_for(tenant)
    codec = _Codec(alias)
    with read_guard(alias), connections[alias].cursor() as cursor:
        cursor.execute(
            "SELECT sequence, last_hash, frontier FROM ledger_tenanthead WHERE tenant_id = %s",
            [codec.uuid_param(tenant.id)],
        )
        row = cursor.fetchone()
    if row is None:
        return Head(0, GENESIS_HASH, CompactRange())
    return Head(row[0], bytes(row[1]), CompactRange.unpack(row[0], bytes(row[2])))


def select(
    tenant: TenantRef,
    *,
    after_sequence: int = 0,
    limit: int = 1000,
    stream_id: str | None = None,
    after_version: int = 0,
    up_to_version: int | None = None,
    up_to_sequence: int | None = None,
    types: Sequence[str] = (),
    descending: bool = False,
) -> list[StoredRecord]:
    alias = alias_for(tenant)
    codec = _Codec(alias)
    where = ["tenant_id = %s"]
    params: list[Any] = [codec.uuid_param(tenant.id)]
    if stream_id is not None:
        where.append("stream_id = %s")
        params.append(stream_id)
        if after_version:
            where.append("stream_version > %s")
            params.append(after_version)
        if up_to_version is not None:
            where.append("stream_version <= %s")
            params.append(up_to_version)
    if after_sequence:
        where.append("sequence > %s")
        params.append(after_sequence)
    if up_to_sequence is not None:
        where.append("sequence <= %s")
        params.append(up_to_sequence)
    if types:
        where.append("type IN (" + ", ".join(["%s"] * len(types)) + ")")
        params += list(types)
    order = "DESC" if descending else "ASC"
    key = "stream_version" if stream_id is not None else "sequence"
    sql = (
        f"SELECT {EVENT_COLUMNS} FROM ledger_event WHERE {' AND '.join(where)}"  # noqa: S608 - constants and placeholders only
        f" ORDER BY {key} {order} LIMIT %s"
    )
    with read_guard(alias), connections[alias].cursor() as cursor:
        if codec.pg:
            # Django's timestamptz loader is pure Python (a regex per value, a third of
            # ledger_verify's time); psycopg's own C loader gives the same aware datetimes
            # because Django's connections run in UTC.
            cursor.cursor.adapters.register_loader("timestamptz", TimestamptzLoader)
        cursor.execute(sql, [*params, limit])
        return [codec.record(row) for row in cursor.fetchall()]


def iterate(
    tenant: TenantRef, *, chunk: int = 5000, after_sequence: int = 0
) -> Iterator[StoredRecord]:
    """Every event of the tenant in sequence order, read in chunks (keyset pagination)."""
    position = after_sequence
    while True:
        rows = select(tenant, after_sequence=position, limit=chunk)
        yield from rows
        if len(rows) < chunk:
            return
        position = rows[-1].sequence


__all__ = [
    "ConcurrencyError",
    "DatabaseError",
    "DuplicateEvent",
    "Prepared",
    "StoredRecord",
    "append",
    "append_exact",
    "head",
    "iterate",
    "select",
]

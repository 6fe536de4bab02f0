"""The PostgreSQL append path: three round trips per append when the head was guessed right.

``BEGIN``; one call of ``callseal_ledger_lock_append`` (migration 0004), which sets the
row-level-security tenant setting transaction-locally, locks the tenant's head, reads the
stream's version and how many of the batch's event ids are stored (after the lock, so it sees
every committed append) and, when the caller's guess of the head and stream version was right,
inserts the batch (hashed in Python onto the guessed head) and moves the head; ``COMMIT``.
The guess is this process's last committed append for the tenant (callseal.ledger.store).
When there was no guess or it was wrong, the call only locks and reports, the caller hashes
onto the locked head and ``insert`` sends one ``INSERT ... SELECT FROM unnest(<one array per
column>)`` with the head move: four round trips.

Nothing here fails on a wrong guess, a stale expected version or a retried event id: the
caller learns it from the returned state with its transaction intact, so no savepoint is
needed. Statements go through a server-side-binding psycopg cursor on Django's own
connection (the caller's transaction, the app role, row-level security) with binary
parameters, prepared once per connection: their shape does not depend on the batch size.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from django.db import connections

LOCK_APPEND_SQL = (
    "SELECT * FROM callseal_ledger_lock_append(%(tenant)s, %(stream)s, %(ids)b::uuid[],"
    " %(seq)s::bigint, %(hash)b::bytea, %(version)s::bigint, %(at)s::timestamptz,"
    " %(c0)b::bigint[], %(c1)b::text[], %(c2)b::bigint[], %(c3)b::uuid[], %(c4)b::text[],"
    " %(c5)b::int[], %(c6)b::text[], %(c7)b::text[], %(c8)b::text[], %(c9)b::bytea[],"
    " %(c10)b::bytea[], %(new_seq)s::bigint, %(new_hash)b::bytea, %(new_frontier)b::bytea)"
)
_NO_SPECULATION: dict[str, Any] = dict.fromkeys(
    ["seq", "hash", "version", "at", "new_seq", "new_hash", "new_frontier"]
) | {f"c{i}": None for i in range(11)}
_INSERT = (
    "INSERT INTO ledger_event (tenant_id, sequence, stream_id, stream_version, event_id, type,"
    " schema_version, subject_ref, payload, metadata, recorded_at, prev_hash, leaf_hash)"
    " SELECT %(tenant)s, u.seq, u.stream, u.ver, u.eid, u.typ, u.sv, u.subj, u.payload,"
    " u.meta, %(at)s, u.prev, u.leaf FROM unnest(%(c0)b::bigint[], %(c1)b::text[],"
    " %(c2)b::bigint[], %(c3)b::uuid[], %(c4)b::text[], %(c5)b::int[], %(c6)b::text[],"
    " %(c7)b::text[], %(c8)b::text[], %(c9)b::bytea[], %(c10)b::bytea[])"
    " AS u(seq, stream, ver, eid, typ, sv, subj, payload, meta, prev, leaf)"
)
_MOVE_HEAD = (
    "UPDATE ledger_tenanthead SET sequence = %(new_seq)s, last_hash = %(new_hash)s,"
    " frontier = %(new_frontier)s WHERE tenant_id = %(tenant)s"
)
INSERT_SQL = f"WITH ins AS ({_INSERT}) {_MOVE_HEAD}"


@dataclass(frozen=True, slots=True)
class Batch:
    """Rows hashed onto a head: 11 column lists (sequence, stream, version, event id, type,
    schema version, subject, payload, metadata, prev hash, leaf hash), their time, and the
    head after them (sequence, last hash, packed frontier)."""

    columns: tuple[list[Any], ...]
    recorded_at: datetime
    head: tuple[int, bytes, bytes]

    def params(self) -> dict[str, Any]:
        params: dict[str, Any] = {f"c{i}": column for i, column in enumerate(self.columns)}
        params["at"] = self.recorded_at
        params["new_seq"], params["new_hash"], params["new_frontier"] = self.head
        return params


@dataclass(frozen=True, slots=True)
class Speculation:
    """A batch hashed onto a guessed head and stream version."""

    sequence: int
    last_hash: bytes
    version: int
    batch: Batch


@dataclass(frozen=True, slots=True)
class Locked:
    """The locked head, the stream's version and the stored event ids seen after the lock,
    and whether the speculative insert was applied."""

    sequence: int
    last_hash: bytes
    frontier: bytes
    version: int
    known: int
    applied: bool


def _raw(alias: str) -> tuple[Any, psycopg.Connection[Any]]:
    wrapper = connections[alias]
    wrapper.ensure_connection()
    return wrapper, wrapper.connection


def lock(
    alias: str,
    *,
    tenant_id: uuid.UUID,
    stream_id: str | None,
    event_ids: Sequence[uuid.UUID],
    speculation: Speculation | None,
) -> Locked:
    """Lock the tenant's head (creating it if needed) inside the open atomic block, read the
    state after the lock, and apply ``speculation`` if its guess is right."""
    wrapper, raw = _raw(alias)
    params: dict[str, Any] = {"tenant": tenant_id, "stream": stream_id, "ids": list(event_ids)}
    if speculation is None:
        params |= _NO_SPECULATION
    else:
        params |= speculation.batch.params()
        params |= {
            "seq": speculation.sequence,
            "hash": speculation.last_hash,
            "version": speculation.version,
        }
    with wrapper.wrap_database_errors:
        cursor = psycopg.Cursor(raw)
        cursor.execute(LOCK_APPEND_SQL, params, prepare=True)
        row = cursor.fetchone()
    wrapper.tenant_setting_applied(str(tenant_id))
    assert row is not None
    return Locked(int(row[0]), bytes(row[1]), bytes(row[2]), int(row[3]), int(row[4]), row[5])


def insert(alias: str, *, tenant_id: uuid.UUID, batch: Batch) -> None:
    """Insert ``batch`` and move the head (the head is locked by ``lock``)."""
    wrapper, raw = _raw(alias)
    with wrapper.wrap_database_errors:
        psycopg.Cursor(raw).execute(
            INSERT_SQL, {"tenant": tenant_id, **batch.params()}, prepare=True
        )

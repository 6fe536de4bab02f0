"""The PostgreSQL append path: two round trips per append when the head was guessed right.

Round trip 1 pipelines (psycopg pipeline mode) ``BEGIN`` when this opens the transaction, the
row-level-security tenant setting, the head lock (``SELECT ... FOR UPDATE``) and one more
statement, which starts after the lock is held and so sees every committed append of the
tenant (READ COMMITTED takes a new snapshot per statement; a subquery inside the locking
statement would still read the snapshot from before the wait):

- with a guess of the head (this process's last append for the tenant) and of the stream's
  version, a *speculative* insert: one ``INSERT ... SELECT FROM unnest(<one array per
  column>)`` plus the head move, both conditional on the guess being right (head sequence
  and hash, stream version, none of the event ids stored). The caller hashed the batch onto
  the guessed head beforehand. Round trip 2 is the caller's ``COMMIT``.
- otherwise (or when the guess was wrong) a read of the stream's version and of how many of
  the event ids are stored; the caller hashes onto the locked head and ``insert`` moves it,
  then ``COMMIT``: three round trips.

Nothing in this module fails on a stale guess, a stale expected version or a retried event
id: the caller learns it from the returned state with its transaction intact, so no
savepoint is needed. Statements go through a server-side-binding psycopg cursor on Django's
own connection (the caller's transaction, the app role, row-level security) and are prepared
once per connection: their shape does not depend on the batch size.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from django.db import connections

from callseal.ledger.canonical import GENESIS_HASH

LOCK_SQL = (
    "SELECT sequence, last_hash, frontier FROM ledger_tenanthead"
    " WHERE tenant_id = %(tenant)s FOR UPDATE"
)
CREATE_HEAD_SQL = (
    "INSERT INTO ledger_tenanthead (tenant_id, sequence, last_hash, frontier)"
    " VALUES (%(tenant)s, 0, %(genesis)s, '') ON CONFLICT (tenant_id) DO NOTHING"
)
_STATE = (
    "(SELECT coalesce(max(e.stream_version), 0) FROM ledger_event e"
    " WHERE e.tenant_id = %(tenant)s AND e.stream_id = %(stream)s) AS version,"
    " (SELECT count(*) FROM ledger_event e"
    " WHERE e.tenant_id = %(tenant)s AND e.event_id = ANY(%(ids)b::uuid[])) AS known"
)
STATE_SQL = f"SELECT {_STATE}, false"
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
SPECULATIVE_SQL = (
    f"WITH state AS (SELECT {_STATE}),"  # noqa: S608 - constants and placeholders only
    " ok AS (SELECT 1 FROM state, ledger_tenanthead h WHERE h.tenant_id = %(tenant)s"
    " AND h.sequence = %(seq)s AND h.last_hash = %(hash)s AND state.version = %(version)s"
    " AND state.known = 0),"
    f" ins AS ({_INSERT} WHERE EXISTS (SELECT FROM ok)),"
    f" mv AS ({_MOVE_HEAD} AND EXISTS (SELECT FROM ok))"
    " SELECT state.version, state.known, EXISTS (SELECT FROM ok) FROM state"
)


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
    if speculation is not None:
        params |= speculation.batch.params()
        params |= {
            "seq": speculation.sequence,
            "hash": speculation.last_hash,
            "version": speculation.version,
        }
    second = SPECULATIVE_SQL if speculation is not None else STATE_SQL
    with wrapper.wrap_database_errors:
        for attempt in range(2):
            setting, head_cursor, state_cursor = (psycopg.Cursor(raw) for _ in range(3))
            with raw.pipeline() as pipeline:
                wrapper.queue_tenant_setting(setting)
                head_cursor.execute(LOCK_SQL, params, prepare=True)
                state_cursor.execute(second, params, prepare=True)
                pipeline.sync()
                head = head_cursor.fetchone()
                state = state_cursor.fetchone()
            if head is not None or attempt:
                break
            # The tenant's first append: create its head, then lock it.
            head_cursor.execute(
                CREATE_HEAD_SQL, {"tenant": tenant_id, "genesis": GENESIS_HASH}, prepare=True
            )
    assert head is not None
    assert state is not None
    return Locked(
        int(head[0]), bytes(head[1]), bytes(head[2]), int(state[0]), int(state[1]), state[2]
    )


def insert(alias: str, *, tenant_id: uuid.UUID, batch: Batch) -> None:
    """Insert ``batch`` and move the head (the head is locked by ``lock``)."""
    wrapper, raw = _raw(alias)
    with wrapper.wrap_database_errors:
        psycopg.Cursor(raw).execute(
            INSERT_SQL, {"tenant": tenant_id, **batch.params()}, prepare=True
        )

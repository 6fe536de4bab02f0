"""The one regional write envelope: every service that changes state writes through it.

    with regional_write(tenant):            # the tenant's region database, one transaction
        call = Call.objects.select_for_update().get(...)
        record(stream_id=call_stream(call.id), events=[...], actor="calls.media")
        on_commit(lambda: some_task.delay(str(call.id)))

    write(stream_id=..., events=[...], actor=...)   # one append, nothing else to do

``regional_write`` makes the tenant current, opens a transaction on its region's database
and, on SQLite, first queues on the ledger's per-process writer lock (store.writing), so
read-model rows and events commit together or not at all. ``record`` appends and applies
the registered inline projections (callseal.ledger.projections: ``inline = True``) in that
transaction, so no app imports another app's projection to keep its read models current.
``on_commit`` schedules follow-up work (Celery tasks, live pushes) on the region's
connection: it runs only once the events are durable (STYLE: never ``.delay()`` inside).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import transaction

from callseal.ledger import store
from callseal.ledger.events import RecordedEvent
from callseal.ledger.projections import projections_apply_inline
from callseal.ledger.services import ledger_append
from callseal.tenancy.context import current_tenant, current_tenant_or_none, tenant_context


class OutsideRegionalWrite(RuntimeError):
    """``record``/``on_commit`` called outside ``regional_write`` (a programming error)."""


# The region aliases whose regional_write is open in this context (a bare
# ``transaction.atomic`` is not an envelope: it takes neither the writer lock nor the tenant).
_open: ContextVar[tuple[str, ...]] = ContextVar("callseal_regional_writes", default=())


@contextmanager
def regional_write(tenant: object | None = None) -> Iterator[str]:
    """One write transaction on the region database of ``tenant`` (a Tenant or TenantRef;
    default: the current tenant), which is current inside the block. Yields the alias."""
    ref = current_tenant() if tenant is None else tenant
    with tenant_context(ref) as current:
        alias = store.alias_for(current)
        with store.writing(alias), transaction.atomic(using=alias):
            token = _open.set((*_open.get(), alias))
            try:
                yield alias
            finally:
                _open.reset(token)


def _open_alias() -> str:
    tenant = current_tenant_or_none()
    if tenant is None:
        raise OutsideRegionalWrite("no tenant: open regional_write(tenant) first")
    alias = store.alias_for(tenant)
    if alias not in _open.get():
        raise OutsideRegionalWrite(f"no regional_write open on {alias!r}")
    return alias


def record(
    *,
    stream_id: str,
    events: Sequence[object],
    actor: str,
    subject: str | None = None,
    event_ids: Sequence[uuid.UUID] | None = None,
    expected_version: int | None = None,
    causation_id: str | None = None,
    correlation_id: str | None = None,
) -> list[RecordedEvent]:
    """Append ``events`` to ``stream_id`` (see ledger_append for the arguments and errors)
    and apply the inline projections, inside the enclosing ``regional_write``."""
    _open_alias()
    recorded = ledger_append(
        stream_id=stream_id,
        events=events,
        actor=actor,
        subject=subject or None,
        event_ids=event_ids,
        expected_version=expected_version,
        causation_id=causation_id,
        correlation_id=correlation_id,
    )
    projections_apply_inline(recorded)
    return recorded


def on_commit(work: Callable[[], object]) -> None:
    """Run ``work`` after the enclosing ``regional_write`` commits (dropped on rollback).
    It runs outside the tenant context: capture what it needs."""
    transaction.on_commit(work, using=_open_alias())


def write(
    *,
    stream_id: str,
    events: Sequence[object],
    actor: str,
    tenant: object | None = None,
    subject: str | None = None,
    event_ids: Sequence[uuid.UUID] | None = None,
    expected_version: int | None = None,
) -> list[RecordedEvent]:
    """``record`` in a ``regional_write`` of its own (a write that changes nothing else)."""
    with regional_write(tenant):
        return record(
            stream_id=stream_id,
            events=events,
            actor=actor,
            subject=subject,
            event_ids=event_ids,
            expected_version=expected_version,
        )


__all__ = ["OutsideRegionalWrite", "on_commit", "record", "regional_write", "write"]

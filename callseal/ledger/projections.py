"""Projections: read models fed from the ledger, each remembering its last position.

    class CallsProjection(Projection):
        name = "calls.call"
        types = ("call.started", "call.ended")

        def apply(self, event: RecordedEvent) -> None:
            ...  # update read models; runs in the position's transaction

    projection_run(CallsProjection())   # catch up; a re-run is a no-op

Each event is applied in one transaction with the position advance, so a crash between
them is impossible and redelivered work is skipped.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import ClassVar

from django.db import IntegrityError, transaction

from callseal.ledger import store
from callseal.ledger.events import RecordedEvent
from callseal.ledger.models import ProjectionPosition
from callseal.ledger.reading import decode
from callseal.tenancy.context import current_tenant


class PositionConflict(IntegrityError):
    """The position was already at or beyond the one recorded."""


class Projection(ABC):
    name: ClassVar[str]
    types: ClassVar[tuple[str, ...]] = ()  # empty: every type
    # Inline: the write envelope (callseal.ledger.envelope) also applies it in the appending
    # transaction, so its read models never lag the ledger; ``apply`` must then be
    # idempotent (the catch-up and replays see the same event again).
    inline: ClassVar[bool] = False

    @abstractmethod
    def apply(self, event: RecordedEvent) -> None: ...

    def reset(self) -> None:  # noqa: B027 - optional hook: clear read models before a rebuild
        """Delete this projection's read models for the current tenant (rebuilds)."""


_registry: dict[str, Callable[[], Projection]] = {}
_inline: dict[str, Callable[[], Projection]] = {}


def register_projection(factory: Callable[[], Projection]) -> Callable[[], Projection]:
    """Register a projection for ``ledger_replay`` (and, when ``inline``, for the write
    envelope). Inline projections run in registration order: INSTALLED_APPS order, since
    each app registers its projections in ``AppConfig.ready``."""
    projection = factory()
    _registry[projection.name] = factory
    if projection.inline:
        _inline[projection.name] = factory
    else:
        _inline.pop(projection.name, None)
    return factory


def registered_projections() -> dict[str, Callable[[], Projection]]:
    return dict(_registry)


def inline_projections() -> list[str]:
    return list(_inline)


def projections_apply_inline(events: Sequence[RecordedEvent]) -> None:
    """Apply freshly appended events to every inline projection that takes their types,
    in the caller's transaction (positions are left to the catch-up: see Projection)."""
    for factory in _inline.values():
        projection = factory()
        for event in events:
            if not projection.types or event.type in projection.types:
                projection.apply(event)


def position_get(name: str) -> int | None:
    tenant = current_tenant()
    row = ProjectionPosition.objects.filter(tenant_id=tenant.id, name=name).first()
    return None if row is None else row.position


def position_advance(name: str, to: int) -> None:
    """Record ``to`` as ``name``'s position; PositionConflict unless it moves forward."""
    tenant = current_tenant()
    moved = ProjectionPosition.objects.filter(
        tenant_id=tenant.id, name=name, position__lt=to
    ).update(position=to)
    if moved:
        return
    if ProjectionPosition.objects.filter(tenant_id=tenant.id, name=name).exists():
        raise PositionConflict(f"projection {name!r} is already at or past {to}")
    try:
        with transaction.atomic(using=store.alias_for(tenant)):
            ProjectionPosition.objects.create(tenant_id=tenant.id, name=name, position=to)
    except IntegrityError as exc:
        raise PositionConflict(f"projection {name!r} was advanced concurrently") from exc


def position_reset(name: str) -> None:
    tenant = current_tenant()
    ProjectionPosition.objects.filter(tenant_id=tenant.id, name=name).delete()


def projection_run(
    projection: Projection, *, batch: int = 500, progress: Callable[[int], None] | None = None
) -> int:
    """Apply every event after the projection's position; return how many were applied."""
    tenant = current_tenant()
    alias = store.alias_for(tenant)
    applied = 0
    position = position_get(projection.name) or 0
    keys: dict[str, bytes | None] = {}
    while True:
        records = store.select(tenant, after_sequence=position, limit=batch)
        if not records:
            return applied
        for record in records:
            with transaction.atomic(using=alias):
                if not projection.types or record.type in projection.types:
                    projection.apply(decode(record, keys=keys))
                    applied += 1
                position_advance(projection.name, record.sequence)
            position = record.sequence
        if progress is not None:
            progress(len(records))


def projection_rebuild(projection: Projection, **kwargs: object) -> int:
    """Clear the projection's read models and position, then replay every event."""
    alias = store.alias_for(current_tenant())
    with transaction.atomic(using=alias):
        projection.reset()
        position_reset(projection.name)
    return projection_run(projection, **kwargs)  # type: ignore[arg-type]

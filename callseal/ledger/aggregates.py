"""Aggregates: state rebuilt from a stream, commands that check rules and trigger events.

class Call(Aggregate):
    def __init__(self) -> None:
        super().__init__()
        self.ended = False

    def end(self, *, reason: str) -> None:
        if self.ended:
            raise CallEnded
        self.trigger(CallEndedEvent(reason=reason))

    def apply(self, event: object) -> None:
        if isinstance(event, CallEndedEvent):
            self.ended = True

call = aggregate_load(Call, stream_id="call-123")
call.end(reason="hangup")
aggregate_save(call, actor="agent:7")   # appends with expected_version: optimistic
"""

from __future__ import annotations

from typing import Any, TypeVar

from callseal.ledger.events import RecordedEvent
from callseal.ledger.selectors import ledger_read_stream
from callseal.ledger.services import ledger_append

A = TypeVar("A", bound="Aggregate")


class Aggregate:
    stream_id: str

    def __init__(self) -> None:
        self.version = 0
        self.pending: list[object] = []

    def apply(self, event: Any) -> None:
        """Change state for one event: the only place state changes."""
        raise NotImplementedError

    def trigger(self, event: object) -> None:
        self.apply(event)
        self.pending.append(event)


def aggregate_load(cls: type[A], *, stream_id: str) -> A:
    aggregate = cls()
    aggregate.stream_id = stream_id
    after = 0
    while True:
        batch = ledger_read_stream(stream_id=stream_id, after_version=after, limit=1000)
        for recorded in batch:
            aggregate.apply(recorded.event)
            aggregate.version = recorded.stream_version
        if len(batch) < 1000:
            return aggregate
        after = batch[-1].stream_version


def aggregate_save(
    aggregate: Aggregate,
    *,
    actor: str,
    subject: str | None = None,
    causation_id: str | None = None,
    correlation_id: str | None = None,
) -> list[RecordedEvent]:
    """Append the pending events, conditional on the version the aggregate was loaded at."""
    if not aggregate.pending:
        return []
    recorded = ledger_append(
        stream_id=aggregate.stream_id,
        events=aggregate.pending,
        expected_version=aggregate.version,
        actor=actor,
        subject=subject,
        causation_id=causation_id,
        correlation_id=correlation_id,
    )
    aggregate.pending = []
    aggregate.version = recorded[-1].stream_version
    return recorded

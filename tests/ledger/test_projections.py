"""Projections remember their position: re-running is a no-op; replay rebuilds."""

from __future__ import annotations

import io
from typing import ClassVar

import pytest
from django.core.management import call_command

from callseal.ledger.aggregates import Aggregate, aggregate_load, aggregate_save
from callseal.ledger.events import RecordedEvent
from callseal.ledger.projections import (
    Projection,
    position_get,
    projection_run,
    register_projection,
)
from callseal.ledger.services import ledger_append
from callseal.ledger.store import ConcurrencyError
from tests.conftest import ALL_DATABASES
from tests.ledger.events import NoteAdded

pytestmark = pytest.mark.django_db(databases=ALL_DATABASES)
SEEN: list[str] = []


class NotesProjection(Projection):
    name = "tests.notes"
    types: ClassVar = ("test.note_added",)

    def apply(self, event: RecordedEvent) -> None:
        SEEN.append(event.data["text"])

    def reset(self) -> None:
        SEEN.clear()


register_projection(NotesProjection)


def test_rerunning_a_projection_applies_nothing_new(us_context):
    SEEN.clear()
    ledger_append(stream_id="n", events=[NoteAdded(text="a"), NoteAdded(text="b")], actor="u")
    assert projection_run(NotesProjection()) == 2
    assert projection_run(NotesProjection()) == 0
    ledger_append(stream_id="n", events=[NoteAdded(text="c")], actor="u")
    assert projection_run(NotesProjection()) == 1
    assert SEEN == ["a", "b", "c"]
    assert position_get("tests.notes") == 3


def test_ledger_replay_rebuilds_from_events(us_context):
    SEEN.clear()
    ledger_append(stream_id="n", events=[NoteAdded(text="a")], actor="u")
    projection_run(NotesProjection())
    SEEN.append("corrupted read model")
    out = io.StringIO()
    call_command(
        "ledger_replay",
        tenant="acme-us",
        projection="tests.notes",
        stdout=out,
        stderr=io.StringIO(),
    )
    assert SEEN == ["a"]
    assert out.getvalue() == "acme-us: tests.notes: 1 events applied\n"


class Counter(Aggregate):
    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []

    def add(self, text: str) -> None:
        if text in self.texts:
            raise ValueError("duplicate")
        self.trigger(NoteAdded(text=text))

    def apply(self, event: NoteAdded) -> None:
        self.texts.append(event.text)


def test_aggregate_rebuilds_from_its_stream_and_saves_optimistically(us_context):
    first = aggregate_load(Counter, stream_id="counter-1")
    first.add("x")
    aggregate_save(first, actor="u")
    stale = aggregate_load(Counter, stream_id="counter-1")
    fresh = aggregate_load(Counter, stream_id="counter-1")
    assert fresh.texts == ["x"]
    assert fresh.version == 1
    fresh.add("y")
    aggregate_save(fresh, actor="u")
    stale.add("z")
    with pytest.raises(ConcurrencyError):
        aggregate_save(stale, actor="u")
    assert aggregate_load(Counter, stream_id="counter-1").texts == ["x", "y"]

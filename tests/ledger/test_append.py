"""Appending: versions, idempotency, concurrency, gap-free order, and bad input."""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass

import pytest
from django.db import connections

from callseal.ledger import store
from callseal.ledger.registry import LedgerInputError, SchemaMismatch, UnknownEventType
from callseal.ledger.selectors import ledger_read_stream, ledger_read_tenant
from callseal.ledger.services import ledger_append
from callseal.tenancy.context import TenantContextMissing, tenant_context
from tests.conftest import ALL_DATABASES
from tests.factories import TenantFactory
from tests.ledger.events import CallStarted, NoteAdded

pytestmark = pytest.mark.django_db(databases=ALL_DATABASES)


def test_append_assigns_stream_versions_and_tenant_sequence(us_context):
    first = ledger_append(stream_id="a", events=[NoteAdded(text="1")], actor="u1")
    second = ledger_append(
        stream_id="b",
        events=[NoteAdded(text="2"), NoteAdded(text="3", tags=["x"])],
        actor="u1",
        correlation_id="corr-1",
    )
    assert [(e.sequence, e.stream_id, e.stream_version) for e in first + second] == [
        (1, "a", 1),
        (2, "b", 1),
        (3, "b", 2),
    ]
    read = ledger_read_tenant(after_sequence=1, limit=10)
    assert [e.data for e in read] == [
        {"count": 0, "tags": None, "text": "2"},
        {"count": 0, "tags": ["x"], "text": "3"},
    ]
    assert read[0].metadata == {
        "actor": "u1",
        "causation_id": None,
        "correlation_id": "corr-1",
        "region": "us",
        "request_id": None,
    }
    assert read[1].event == NoteAdded(text="3", tags=["x"])


def test_retried_append_with_same_event_ids_returns_stored_events_and_appends_nothing(
    us_context,
):
    ids = [uuid.uuid4(), uuid.uuid4()]
    events = [NoteAdded(text="a"), NoteAdded(text="b")]
    first = ledger_append(
        stream_id="s", events=events, expected_version=0, actor="u", event_ids=ids
    )
    again = ledger_append(
        stream_id="s", events=events, expected_version=0, actor="u", event_ids=ids
    )
    assert [(e.sequence, e.event_id) for e in again] == [(e.sequence, e.event_id) for e in first]
    assert len(ledger_read_tenant(limit=100)) == 2


def test_stale_expected_version_raises_concurrency_error(us_context):
    ledger_append(stream_id="s", events=[NoteAdded(text="a")], expected_version=0, actor="u")
    with pytest.raises(store.ConcurrencyError, match="at version 1, not the expected 0"):
        ledger_append(stream_id="s", events=[NoteAdded(text="b")], expected_version=0, actor="u")
    assert [e.data["text"] for e in ledger_read_stream(stream_id="s")] == ["a"]


def test_payload_not_matching_schema_is_refused_and_nothing_appended(us_context):
    with pytest.raises(SchemaMismatch, match="field 'count' is str"):
        ledger_append(
            stream_id="s",
            events=[NoteAdded(text="ok"), NoteAdded(text="x", count="3")],  # type: ignore[arg-type]
            actor="u",
        )
    with pytest.raises(SchemaMismatch, match="field 'tags'"):
        ledger_append(stream_id="s", events=[NoteAdded(text="x", tags=[1])], actor="u")  # type: ignore[list-item]
    assert ledger_read_tenant(limit=10) == []


def test_unknown_event_type_is_refused_and_nothing_appended(us_context):
    @dataclass(frozen=True)
    class NotRegistered:
        text: str

    with pytest.raises(UnknownEventType, match="NotRegistered is not a registered"):
        ledger_append(stream_id="s", events=[NotRegistered(text="x")], actor="u")
    assert ledger_read_tenant(limit=10) == []


def test_append_without_tenant_context_is_refused():
    with pytest.raises(TenantContextMissing):
        ledger_append(stream_id="s", events=[NoteAdded(text="x")], actor="u")


def test_personal_fields_need_a_subject_and_are_stored_sealed(us_context):
    event = CallStarted(twilio_call_sid="CA1", from_number="+14155550123", to_number="+1")
    with pytest.raises(LedgerInputError, match="personal fields"):
        ledger_append(stream_id="call-1", events=[event], actor="u")
    assert store.select(tenant_ref(us_context), limit=10) == []
    (recorded,) = ledger_append(stream_id="call-1", events=[event], actor="u", subject="a" * 64)
    (stored,) = store.select(tenant_ref(us_context), limit=10)
    assert "+14155550123" not in stored.payload_json
    assert stored.payload_json.startswith('{"from_number":{"$sealed":"')
    assert recorded.data["from_number"] == "+14155550123"


def tenant_ref(tenant):
    from callseal.tenancy.context import as_ref

    return as_ref(tenant)


def _threads(n, target):
    errors: list[BaseException] = []
    results: list[object] = []
    barrier = threading.Barrier(n)

    def run(i):
        try:
            barrier.wait()
            results.append(target(i))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors


@pytest.mark.django_db(databases=ALL_DATABASES, transaction=True)
def test_concurrent_appends_to_one_stream_exactly_one_wins():
    tenant = TenantFactory(slug="race-us", region="us")

    def attempt(i):
        with tenant_context(tenant):
            return ledger_append(
                stream_id="contested",
                events=[NoteAdded(text=str(i))],
                expected_version=0,
                actor="u",
            )

    results, errors = _threads(6, attempt)
    assert len(results) == 1
    assert len(errors) == 5
    assert all(isinstance(e, store.ConcurrencyError) for e in errors)
    with tenant_context(tenant):
        assert len(ledger_read_stream(stream_id="contested")) == 1


@pytest.mark.django_db(databases=ALL_DATABASES, transaction=True)
def test_sequence_is_gap_free_under_8_concurrent_writers():
    tenant = TenantFactory(slug="busy-us", region="us")

    def writer(i):
        with tenant_context(tenant):
            for j in range(10):
                ledger_append(stream_id=f"w{i}", events=[NoteAdded(text=f"{i}-{j}")] * 2, actor="u")

    _, errors = _threads(8, writer)
    assert errors == []
    with tenant_context(tenant):
        events = ledger_read_tenant(limit=1000)
        assert [e.sequence for e in events] == list(range(1, 161))
        for i in range(8):
            stream = ledger_read_stream(stream_id=f"w{i}")
            assert [e.stream_version for e in stream] == list(range(1, 21))
        assert store.head(tenant_ref(tenant)).sequence == 160

"""The regional write envelope: one transaction on the tenant's region database holding the
events, the inline projections' read models and the follow-up work scheduled on commit."""

from __future__ import annotations

import uuid

import pytest

from analytics.models import CallSummary
from calls.events import CallStarted, call_stream
from calls.models import Call
from callseal.ledger.envelope import (
    OutsideRegionalWrite,
    on_commit,
    record,
    regional_write,
    write,
)
from callseal.ledger.projections import inline_projections
from callseal.ledger.selectors import ledger_read_stream
from callseal.tenancy.context import TenantContextMissing, tenant_context
from tests.conftest import ALL_DATABASES
from tests.ledger.events import NoteAdded

pytestmark = pytest.mark.django_db(databases=ALL_DATABASES)


def _started(call_id: uuid.UUID) -> CallStarted:
    return CallStarted(
        call_id=str(call_id),
        twilio_call_sid="CA" + call_id.hex,
        to_number="+15005550001",
        from_number=None,
        from_masked="**********06",
        phone_number_id=str(uuid.uuid4()),
        agent_id=None,
        region="us",
        started_at="2026-01-05T10:00:00+00:00",
    )


def test_the_apps_read_models_are_registered_inline_in_installed_apps_order():
    assert inline_projections() == [
        "calls.call",
        "agents.config",
        "agents.escalations",
        "analytics.test_calls",
        "analytics.calls",
    ]


def test_record_applies_the_inline_projections_in_the_appending_transaction(acme_us):
    call_id = uuid.uuid4()
    with regional_write(acme_us) as alias:
        assert alias == "region_us"
        (event,) = record(stream_id=call_stream(call_id), events=[_started(call_id)], actor="t")
        # Visible inside the transaction: the read models were written with the event.
        assert Call.objects.get(tenant_id=acme_us.id, id=call_id).ledger_version == 1
        assert CallSummary.objects.get(tenant_id=acme_us.id, call_id=call_id).ledger_version == 1
    assert event.type == "call.started"
    assert event.metadata["actor"] == "t"


def test_a_rollback_undoes_events_read_models_and_scheduled_work(
    acme_us, django_capture_on_commit_callbacks
):
    call_id = uuid.uuid4()
    ran: list[str] = []

    def fail_after_writing() -> None:
        with regional_write(acme_us):
            record(stream_id=call_stream(call_id), events=[_started(call_id)], actor="t")
            on_commit(lambda: ran.append("after"))
            raise ZeroDivisionError

    with (
        django_capture_on_commit_callbacks(using="region_us", execute=True) as callbacks,
        pytest.raises(ZeroDivisionError),
    ):
        fail_after_writing()
    assert callbacks == []
    assert ran == []
    with tenant_context(acme_us):
        assert ledger_read_stream(stream_id=call_stream(call_id)) == []
        assert not Call.objects.filter(tenant_id=acme_us.id, id=call_id).exists()
        assert not CallSummary.objects.filter(tenant_id=acme_us.id, call_id=call_id).exists()


def test_on_commit_work_runs_once_the_write_commits(acme_us, django_capture_on_commit_callbacks):
    ran: list[str] = []
    with (
        django_capture_on_commit_callbacks(using="region_us", execute=True),
        regional_write(acme_us),
    ):
        record(stream_id="notes", events=[NoteAdded(text="a")], actor="t")
        on_commit(lambda: ran.append("after"))
        assert ran == []
    assert ran == ["after"]


def test_record_and_on_commit_outside_an_envelope_are_refused(acme_us):
    with tenant_context(acme_us):
        with pytest.raises(OutsideRegionalWrite):
            record(stream_id="notes", events=[NoteAdded(text="a")], actor="t")
        with pytest.raises(OutsideRegionalWrite):
            on_commit(lambda: None)
        assert ledger_read_stream(stream_id="notes") == []
    with pytest.raises(OutsideRegionalWrite):
        record(stream_id="notes", events=[NoteAdded(text="a")], actor="t")


def test_the_envelope_writes_to_the_tenants_region_and_makes_it_current(acme_us, acme_eu):
    with tenant_context(acme_us), regional_write(acme_eu) as alias:
        assert alias == "region_eu"
        record(stream_id="notes", events=[NoteAdded(text="eu")], actor="t")
    with tenant_context(acme_eu):
        assert [e.data["text"] for e in ledger_read_stream(stream_id="notes")] == ["eu"]
    with tenant_context(acme_us):
        assert ledger_read_stream(stream_id="notes") == []
        (event,) = write(stream_id="notes", events=[NoteAdded(text="us")], actor="t")
        assert event.stream_version == 1
    with pytest.raises(TenantContextMissing):
        write(stream_id="notes", events=[NoteAdded(text="x")], actor="t")

"""Legal holds: placed and released by compliance officers only, each an event."""

from __future__ import annotations

import uuid

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404

from callseal.ledger.selectors import ledger_head_sequence, ledger_read_stream
from callseal.tenancy.context import tenant_context
from callseal.tenancy.models import Role
from compliance.holds import active_holds, legal_hold_place, legal_hold_release
from compliance.models import HoldScope, LegalHold
from compliance.subjects import phone_subject_ref
from tests.compliance.conftest import CALLER, make_call
from tests.conftest import ALL_DATABASES

pytestmark = pytest.mark.django_db(databases=ALL_DATABASES)
# The whole message: another tenant's call must read exactly like a missing one.
NOT_FOUND = r"^\[.no call with that Twilio SID or id in this tenant.\]$"


def test_placing_and_releasing_a_subject_hold_records_both(us_context, actor):
    officer = actor(us_context)
    hold = legal_hold_place(
        actor=officer, scope="subject", phone_number="415-555-0123", reason="case 7"
    )
    assert (hold.subject_ref, hold.target_label) == (phone_subject_ref(CALLER), "+*********23")
    assert active_holds().covers(call_id=None, subject_ref=phone_subject_ref(CALLER))
    legal_hold_release(actor=officer, hold_id=hold.id, reason="case closed")
    assert not active_holds().holds

    placed, released = ledger_read_stream(stream_id=f"legal-hold-{hold.id}")
    assert placed.type == "legal_hold.placed"
    assert placed.data == {
        "hold_id": str(hold.id),
        "scope": "subject",
        "call_id": None,
        "subject_ref": phone_subject_ref(CALLER),
        "reason": "case 7",
        "placed_by": officer.user.username,
    }
    assert released.type == "legal_hold.released"
    assert released.data == {
        "hold_id": str(hold.id),
        "reason": "case closed",
        "released_by": officer.user.username,
    }
    with pytest.raises(ValidationError, match="already released"):
        legal_hold_release(actor=officer, hold_id=hold.id, reason="again")


def test_a_call_hold_covers_only_that_call(us_context, actor):
    call, other = make_call(), make_call()
    legal_hold_place(actor=actor(us_context), scope="call", call=str(call.id), reason="x")
    holds = active_holds()
    assert holds.covers(call_id=call.id, subject_ref="s")
    assert not holds.covers(call_id=other.id, subject_ref="s")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scope": "call", "call": None}, "needs the call's Twilio SID"),
        ({"scope": "call", "call": "  "}, "needs the call's Twilio SID"),
        ({"scope": "call", "call": uuid.uuid4()}, "no call with that Twilio SID or id"),
        ({"scope": "call", "call": "CA" + "0" * 32}, "no call with that Twilio SID or id"),
        ({"scope": "call", "call": "CA123"}, "no call with that Twilio SID or id"),
        ({"scope": "call", "call": "not-a-uuid"}, "no call with that Twilio SID or id"),
        ({"scope": "subject", "phone_number": "12"}, "not a valid phone number"),
        ({"scope": "planet"}, "scope must be one of"),
        ({"scope": "tenant", "reason": ""}, "give a reason"),
        ({"scope": "tenant", "reason": "r" * 201}, "at most 200"),
    ],
)
def test_bad_hold_input_is_refused_and_nothing_stored(us_context, actor, kwargs, message):
    before = ledger_head_sequence()
    with pytest.raises(ValidationError, match=message):
        legal_hold_place(actor=actor(us_context), **{"reason": "r", **kwargs})
    assert not LegalHold.objects.exists()
    assert ledger_head_sequence() == before


@pytest.mark.parametrize("by", ["id", "sid"])
def test_a_call_of_another_tenant_cannot_be_held(us_context, acme_eu, actor, by):
    call = make_call()
    reference = call.id if by == "id" else call.twilio_call_sid
    with (
        tenant_context(acme_eu),
        pytest.raises(ValidationError, match=NOT_FOUND),
    ):
        legal_hold_place(actor=actor(acme_eu), scope="call", call=reference, reason="r")
    assert not LegalHold.objects.exists()


@pytest.mark.parametrize("by", ["id", "sid", "sid with spaces"])
def test_a_call_hold_accepts_the_twilio_sid_or_the_id_and_shows_the_sid(us_context, actor, by):
    call = make_call()
    reference = {
        "id": str(call.id),
        "sid": call.twilio_call_sid,
        "sid with spaces": f"  {call.twilio_call_sid} ",
    }[by]
    hold = legal_hold_place(actor=actor(us_context), scope="call", call=reference, reason="r")
    assert (hold.call_id, hold.target_label) == (call.id, call.twilio_call_sid)
    (placed,) = ledger_read_stream(stream_id=f"legal-hold-{hold.id}")
    assert placed.data["call_id"] == str(call.id)


@pytest.mark.parametrize("role", [Role.ADMIN, Role.AUDITOR, Role.SUPERVISOR, Role.AGENT])
def test_only_compliance_officers_place_and_release_holds(us_context, actor, role):
    hold = legal_hold_place(actor=actor(us_context), scope=HoldScope.TENANT, reason="r")
    with pytest.raises(PermissionDenied):
        legal_hold_place(actor=actor(us_context, role), scope=HoldScope.TENANT, reason="r")
    with pytest.raises(PermissionDenied):
        legal_hold_release(actor=actor(us_context, role), hold_id=hold.id, reason="r")


def test_another_tenants_hold_is_not_found(us_context, acme_eu, actor):
    hold = legal_hold_place(actor=actor(us_context), scope=HoldScope.TENANT, reason="r")
    with tenant_context(acme_eu), pytest.raises(Http404):
        legal_hold_release(actor=actor(acme_eu), hold_id=hold.id, reason="r")

"""Erasure by phone number: keys destroyed, recordings undecryptable, ledger still verifies."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from callseal.crypto.models import SubjectKey
from callseal.ledger.events import ERASED
from callseal.ledger.selectors import ledger_head_sequence, ledger_read_stream, ledger_read_tenant
from callseal.ledger.services import ledger_append
from callseal.ledger.signing import checkpoint_create
from callseal.tenancy.models import Role
from compliance.datakeys import data_key_ref
from compliance.erasure import erasure_preview, erasure_request_create
from compliance.holds import legal_hold_place, legal_hold_release
from compliance.models import (
    DataClass,
    ErasureRequest,
    ErasureStatus,
    Recording,
    RecordingKey,
    RecordingStatus,
)
from compliance.recording import recording_path
from compliance.recording.services import RecordingUnavailable, recording_reader
from compliance.subjects import normalize_e164, phone_subject_ref
from tests.compliance.conftest import CALLER, make_call, pcm_ramp, record
from tests.conftest import ALL_DATABASES
from tests.ledger.events import CallStarted
from tests.ledger.helpers import run_verify

pytestmark = pytest.mark.django_db(databases=ALL_DATABASES)

OTHER = "+14155550177"


def _caller_history(number=CALLER):
    """A call with a recording, a call-scoped raw transcript and a personal field."""
    call = make_call()
    subject = phone_subject_ref(number)
    recording_id = record(call_id=call.id, number=number, caller=pcm_ramp(1600, seed=1))
    stream = f"call-{call.id}"
    own = data_key_ref(subject_ref=subject, data_class=DataClass.PERSONAL_FIELDS, call_id=None)
    raw = data_key_ref(subject_ref=subject, data_class=DataClass.RAW_TRANSCRIPTS, call_id=call.id)
    for ref in (own, raw):
        ledger_append(
            stream_id=stream,
            events=[CallStarted(twilio_call_sid="CA1", from_number=number, to_number="+1")],
            actor="test",
            subject=ref,
        )
    return call, recording_id, stream, sorted({own, raw})


def test_erasure_destroys_keys_and_recordings_and_the_ledger_still_verifies(
    us_context, storage, actor
):
    _call, recording_id, stream, keys = _caller_history()
    _, other_recording, other_stream, _ = _caller_history(OTHER)
    checkpoint_create()
    row = Recording.objects.get(id=recording_id)
    path = recording_path(
        storage_root=storage / "us", tenant_id=us_context.id, recording_id=recording_id
    )
    backup_file = path.read_bytes()
    backup_key = RecordingKey.objects.get(recording_id=recording_id)
    before = ledger_head_sequence()

    request = erasure_request_create(actor=actor(us_context), phone_number="(415) 555-0123")

    assert request.status == ErasureStatus.COMPLETED
    assert request.number_masked == "+*********23"
    assert (request.keys_destroyed, request.recordings_shredded) == (2, 1)
    assert [e.data["from_number"] for e in ledger_read_stream(stream_id=stream)] == [ERASED] * 2
    assert [e.data["from_number"] for e in ledger_read_stream(stream_id=other_stream)] == [
        OTHER
    ] * 2
    assert not SubjectKey.objects.filter(subject_ref__in=keys).exists()
    assert Recording.objects.get(id=recording_id).status == RecordingStatus.SHREDDED
    assert Recording.objects.get(id=other_recording).status == RecordingStatus.FINISHED
    assert not path.exists()
    # Even a restored backup of the file and its key row cannot be decrypted: the subject
    # key that wraps the recording's KEK is gone.
    path.write_bytes(backup_file)
    RecordingKey.objects.create(
        tenant_id=us_context.id,
        recording_id=recording_id,
        subject_ref=backup_key.subject_ref,
        wrapped=bytes(backup_key.wrapped),
    )
    with pytest.raises(RecordingUnavailable, match="erased"):
        recording_reader(row)

    appended = ledger_read_tenant(after_sequence=before)
    assert [e.type for e in appended] == ["subject.erased", "subject.erased", "erasure.completed"]
    proof = appended[-1]
    assert proof.sequence == request.proof_sequence
    assert proof.data == {
        "request_id": str(request.id),
        "subject_ref": phone_subject_ref(CALLER),
        "keys": keys,
        "subject_erased_event_ids": [str(e.event_id) for e in appended[:2]],
        "recordings": [str(recording_id)],
        "requested_by": request.requested_by,
    }
    assert "5550123" not in str([e.data for e in appended])
    code, out, err = run_verify(us_context.slug)
    assert (code, err) == (0, "")
    assert "ledger_verify: OK" in out


@pytest.mark.parametrize("scope", ["subject", "call", "tenant"])
def test_erasure_under_legal_hold_is_refused_recorded_and_destroys_nothing(
    us_context, storage, actor, scope
):
    officer = actor(us_context)
    call, recording_id, stream, keys = _caller_history()
    target = {"subject": {"phone_number": CALLER}, "call": {"call": call.id}, "tenant": {}}
    hold = legal_hold_place(actor=officer, scope=scope, reason="matter 9", **target[scope])
    before = ledger_head_sequence()

    request = erasure_request_create(actor=officer, phone_number=CALLER)

    assert request.status == ErasureStatus.REFUSED
    assert request.message.startswith("Refused: 1 active legal hold(s) cover this caller")
    assert "release the hold(s) first" in request.message
    assert [e.data["from_number"] for e in ledger_read_stream(stream_id=stream)] == [CALLER] * 2
    assert SubjectKey.objects.filter(subject_ref__in=keys).count() == 2
    assert Recording.objects.get(id=recording_id).status == RecordingStatus.FINISHED
    (refused,) = ledger_read_tenant(after_sequence=before)
    assert refused.type == "erasure.refused"
    assert refused.data["hold_ids"] == [str(hold.id)]

    legal_hold_release(actor=officer, hold_id=hold.id, reason="matter closed")
    assert erasure_request_create(actor=officer, phone_number=CALLER).status == "completed"
    assert list(ErasureRequest.objects.values_list("status", flat=True)) == [
        ErasureStatus.COMPLETED,
        ErasureStatus.REFUSED,
    ]


@pytest.mark.parametrize(
    ("number", "message"),
    [
        ("", "enter a phone number"),
        ("call me maybe", "is not a phone number"),
        ("+1415555012", "not a valid phone number"),
        ("+99912345678", "not a phone number"),
        ("1" * 40, "enter a phone number"),
    ],
)
def test_bad_phone_numbers_are_refused_and_nothing_is_stored(
    us_context, storage, actor, number, message
):
    _caller_history()
    before = ledger_head_sequence()
    with pytest.raises(ValidationError, match=message):
        erasure_request_create(actor=actor(us_context), phone_number=number)
    assert ledger_head_sequence() == before
    assert not ErasureRequest.objects.exists()


@pytest.mark.parametrize("role", [Role.AUDITOR, Role.ADMIN, Role.SUPERVISOR, Role.AGENT])
def test_only_compliance_officers_erase(us_context, storage, actor, role):
    _caller_history()
    with pytest.raises(PermissionDenied):
        erasure_request_create(actor=actor(us_context, role), phone_number=CALLER)
    assert not ErasureRequest.objects.exists()


def test_numbers_in_any_format_name_the_same_subject(us_context):
    forms = ["+14155550123", "(415) 555-0123", "415.555.0123", "+1 415 555 0123", "14155550123"]
    assert {normalize_e164(f) for f in forms} == {"+14155550123"}
    assert len({phone_subject_ref(f) for f in forms}) == 1
    assert normalize_e164("+44 20 7946 0018") == "+442079460018"


def _call_without_recording(number=CALLER):
    """A call whose only trace is its call.started, sealed under the caller's own key: no
    recording and no call-scoped key name it, only the call row's subject."""
    call = make_call()
    subject = phone_subject_ref(number)
    call.subject_ref = subject
    call.save(update_fields=["subject_ref"])
    own = data_key_ref(subject_ref=subject, data_class=DataClass.PERSONAL_FIELDS, call_id=None)
    stream = f"call-{call.id}"
    ledger_append(
        stream_id=stream,
        events=[
            CallStarted(twilio_call_sid=call.twilio_call_sid, from_number=number, to_number="+1")
        ],
        actor="test",
        subject=own,
    )
    return call, stream


def test_a_hold_on_a_call_without_recording_blocks_the_erasure_of_its_caller(
    us_context, storage, actor
):
    officer = actor(us_context)
    held, held_stream = _call_without_recording()
    _call, recording_id, _stream, _keys = _caller_history()
    hold = legal_hold_place(
        actor=officer, scope="call", call=held.twilio_call_sid, reason="matter 12"
    )
    before = ledger_head_sequence()

    preview = erasure_preview(actor=officer, phone_number="(415) 555-0123")
    assert ledger_head_sequence() == before  # a preview records nothing
    assert (len(preview.call_ids), len(preview.recordings)) == (2, 1)
    assert held.id in preview.call_ids
    assert [h.id for h in preview.blocking] == [hold.id]

    request = erasure_request_create(actor=officer, phone_number=CALLER)

    assert request.status == ErasureStatus.REFUSED
    assert request.message.startswith("Refused: 1 active legal hold(s) cover this caller (one")
    (from_number,) = [e.data["from_number"] for e in ledger_read_stream(stream_id=held_stream)]
    assert from_number == CALLER
    assert Recording.objects.get(id=recording_id).status == RecordingStatus.FINISHED
    (refused,) = ledger_read_tenant(after_sequence=before)
    assert (refused.type, refused.data["hold_ids"]) == ("erasure.refused", [str(hold.id)])


def test_the_preview_counts_what_an_unheld_erasure_then_destroys(us_context, storage, actor):
    officer = actor(us_context)
    _call_without_recording()
    _caller_history()
    _caller_history(OTHER)

    preview = erasure_preview(actor=officer, phone_number=CALLER)
    assert not preview.blocked
    assert (len(preview.call_ids), len(preview.recordings), len(preview.key_refs)) == (2, 1, 2)
    assert preview.number_masked == "+*********23"

    request = erasure_request_create(actor=officer, phone_number=CALLER)
    assert request.status == ErasureStatus.COMPLETED
    assert (request.keys_destroyed, request.recordings_shredded) == (2, 1)


@pytest.mark.parametrize("role", [Role.AUDITOR, Role.ADMIN])
def test_only_erasers_preview_an_erasure(us_context, storage, actor, role):
    with pytest.raises(PermissionDenied):
        erasure_preview(actor=actor(us_context, role), phone_number=CALLER)

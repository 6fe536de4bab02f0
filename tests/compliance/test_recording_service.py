"""Recording storage through the service: region storage, subject-keyed, audited playback."""

from __future__ import annotations

import json
import uuid

import numpy as np
import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404

from callseal.crypto.aead import DecryptionFailed
from callseal.crypto.wrapping import SubjectKeyWrapper
from callseal.ledger.selectors import ledger_read_stream
from callseal.tenancy.context import tenant_context
from callseal.tenancy.models import Role
from compliance.models import Recording, RecordingKey, RecordingKind, RecordingStatus
from compliance.recording import RecordingCorrupt, recording_path
from compliance.recording.services import (
    recording_append,
    recording_finish,
    recording_open_for_playback,
    recording_start,
)
from compliance.subjects import phone_subject_ref
from tests.compliance.conftest import CALLER, make_call, pcm_ramp, record
from tests.conftest import ALL_DATABASES

pytestmark = pytest.mark.django_db(databases=ALL_DATABASES)


def _play(membership, recording_id, reason="QA review 17") -> bytes:
    playback = recording_open_for_playback(
        actor_membership=membership, recording_id=recording_id, reason=reason
    )
    body = b"".join(playback.chunks)
    assert len(body) == playback.content_length
    return body


def test_recording_is_stored_encrypted_under_the_region_root_and_plays_back_as_wav(
    us_context, storage, actor
):
    call = make_call()
    caller, agent = pcm_ramp(24000, seed=1), pcm_ramp(16000, seed=2)
    recording_id = record(call_id=call.id, caller=caller, agent=agent)

    path = recording_path(
        storage_root=storage / "us", tenant_id=us_context.id, recording_id=recording_id
    )
    assert path.is_file()
    assert caller[:64] not in path.read_bytes()
    row = Recording.objects.get(id=recording_id)
    assert (row.status, row.kind, row.duration_ms) == (RecordingStatus.FINISHED, "original", 1500)

    body = _play(actor(us_context), recording_id)
    assert body[:4] == b"RIFF"
    assert body[8:16] == b"WAVEfmt "
    pcm = np.frombuffer(body[44:], dtype="<i2").reshape(-1, 2)
    assert pcm[:, 0].tobytes() == caller
    assert pcm[:16000, 1].tobytes() == agent
    assert not pcm[16000:, 1].any()


def test_recording_events_carry_no_personal_data_and_log_each_access(us_context, storage, actor):
    call = make_call()
    recording_id = record(call_id=call.id, caller=pcm_ramp(1600, seed=3))
    officer = actor(us_context)
    _play(officer, recording_id, reason="complaint 42")

    events = ledger_read_stream(stream_id=f"recording-{recording_id}")
    assert [e.type for e in events] == [
        "recording.started",
        "recording.finished",
        "recording.accessed",
    ]
    assert events[0].subject_ref == phone_subject_ref(CALLER)
    assert events[0].data["call_id"] == str(call.id)
    assert events[1].data["sha256"] == Recording.objects.get(id=recording_id).sha256
    accessed = events[2].data
    assert accessed == {
        "recording_id": str(recording_id),
        "kind": "original",
        "user_id": officer.user_id,
        "username": officer.user.username,
        "role": Role.COMPLIANCE_OFFICER,
        "reason": "complaint 42",
    }
    stored = json.dumps([e.data for e in events]) + json.dumps([e.metadata for e in events])
    assert "5550123" not in stored


@pytest.mark.parametrize("role", [Role.ADMIN, Role.SUPERVISOR, Role.AGENT, Role.AUDITOR])
def test_only_compliance_officers_play_original_recordings(us_context, storage, actor, role):
    recording_id = record(call_id=make_call().id, caller=pcm_ramp(800, seed=4))
    with pytest.raises(PermissionDenied):
        recording_open_for_playback(
            actor_membership=actor(us_context, role), recording_id=recording_id, reason="x"
        )
    assert [e.type for e in ledger_read_stream(stream_id=f"recording-{recording_id}")] == [
        "recording.started",
        "recording.finished",
    ]


def test_supervisors_play_redacted_copies(us_context, storage, actor):
    call = make_call()
    session = recording_start(
        call_id=call.id,
        subject_ref=phone_subject_ref(CALLER),
        actor="test",
        kind=RecordingKind.REDACTED,
    )
    recording_append(session=session, track="caller", pcm=pcm_ramp(800, seed=5))
    copy = recording_finish(session=session, actor="test")
    body = _play(actor(us_context, Role.SUPERVISOR), copy.id)
    assert np.frombuffer(body[44:], dtype="<i2")[0::2].tobytes() == pcm_ramp(800, seed=5)
    with pytest.raises(PermissionDenied):
        _play(actor(us_context, Role.AGENT), copy.id)


@pytest.mark.parametrize("reason", ["", "   ", "x" * 201])
def test_playback_needs_a_reason(us_context, storage, actor, reason):
    recording_id = record(call_id=make_call().id, caller=pcm_ramp(800, seed=6))
    with pytest.raises(ValidationError, match="reason"):
        _play(actor(us_context), recording_id, reason=reason)


def test_another_tenants_recording_is_not_found(us_context, acme_eu, storage, actor):
    officer_eu = actor(acme_eu)
    recording_id = record(call_id=make_call().id, caller=pcm_ramp(800, seed=7))
    with tenant_context(acme_eu), pytest.raises(Http404):
        _play(officer_eu, recording_id)
    with tenant_context(acme_eu), pytest.raises(Http404):
        _play(officer_eu, uuid.uuid4())


def test_eu_recordings_are_written_only_under_the_eu_root(eu_context, storage, actor):
    recording_id = record(call_id=make_call().id, caller=pcm_ramp(800, seed=8))
    files = sorted(p.relative_to(storage) for p in storage.rglob("*.csrec"))
    assert [str(p) for p in files] == [f"eu/recordings/{eu_context.id}/{recording_id}.csrec"]


def test_truncated_recording_fails_to_decrypt_through_the_service(us_context, storage, actor):
    recording_id = record(call_id=make_call().id, caller=pcm_ramp(80000, seed=9))
    path = recording_path(
        storage_root=storage / "us", tenant_id=us_context.id, recording_id=recording_id
    )
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 70000])
    with pytest.raises(RecordingCorrupt):
        _play(actor(us_context), recording_id)
    # Nothing was played, so no access is recorded.
    assert "recording.accessed" not in {
        e.type for e in ledger_read_stream(stream_id=f"recording-{recording_id}")
    }


def test_chunk_spliced_from_another_recording_fails_to_decrypt(us_context, storage, actor):
    first = record(call_id=make_call().id, caller=pcm_ramp(80000, seed=10))
    second = record(call_id=make_call().id, caller=pcm_ramp(80000, seed=11))
    paths = [
        recording_path(storage_root=storage / "us", tenant_id=us_context.id, recording_id=r)
        for r in (first, second)
    ]
    a, b = (p.read_bytes() for p in paths)
    # Headers have equal lengths (same shape), so chunk 1 sits at the same offset in both.
    header_end = 14 + int.from_bytes(a[10:14], "big")
    assert header_end == 14 + int.from_bytes(b[10:14], "big")
    sealed = 65536 + 16
    start = header_end + sealed
    paths[0].write_bytes(a[:start] + b[start : start + sealed] + a[start + sealed :])
    with pytest.raises(RecordingCorrupt, match="chunk 1"):
        _play(actor(us_context), first)


def test_subject_key_wrapper_binds_the_subject(us_context):
    wrapped = SubjectKeyWrapper(subject_ref="a" * 64, create=True).wrap(b"k" * 32, context=b"c")
    assert SubjectKeyWrapper(subject_ref="a" * 64).unwrap(wrapped, context=b"c") == b"k" * 32
    with pytest.raises(DecryptionFailed):
        SubjectKeyWrapper(subject_ref="b" * 64, create=True).unwrap(wrapped, context=b"c")
    with pytest.raises(DecryptionFailed):
        SubjectKeyWrapper(subject_ref="a" * 64).unwrap(wrapped, context=b"d")


def test_recording_key_is_wrapped_by_the_callers_subject_key(us_context, storage):
    recording_id = record(call_id=make_call().id, caller=pcm_ramp(800, seed=12))
    row = RecordingKey.objects.get(recording_id=recording_id)
    assert row.subject_ref == phone_subject_ref(CALLER)
    assert len(bytes(row.wrapped)) == 12 + 32 + 16

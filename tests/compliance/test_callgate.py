"""The per-stream compliance gate on its own: what reaches the recording and ASR, frame by
frame, as consent and payment steps change (the live-call versions are in
test_call_path.py)."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from datetime import UTC, datetime
from types import SimpleNamespace

import numpy as np
import pytest

from callseal.tenancy.context import as_ref, tenant_context
from compliance.callgate import CallGate, consent_from_events
from compliance.consent import ConsentState, Requirement
from compliance.models import Recording, RecordingStatus
from compliance.pci import PaymentCapture
from compliance.recording.services import recording_reader
from compliance.subjects import phone_subject_ref
from tests.compliance.conftest import CALLER, make_call
from tests.conftest import ALL_DATABASES

pytestmark = pytest.mark.django_db(transaction=True, databases=ALL_DATABASES)
AT = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
FRAME = 160  # 20 ms at 8 kHz


def _frames(n: int, *, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(-20000, 20000, size=FRAME, dtype=np.int16) for _ in range(n)]


def _gate(tenant, call_id: uuid.UUID, subject: str = "s" * 64) -> CallGate:  # type: ignore[no-untyped-def]
    return CallGate(
        tenant=as_ref(tenant),
        call_id=call_id,
        call_sid="CA" + "1" * 32,
        subject_ref=subject,
        stream_index=1,
    )


def _new_call(tenant):  # type: ignore[no-untyped-def]
    """A call row and the caller's subject (sync: runs in a thread from async tests)."""
    with tenant_context(tenant):
        return make_call(), phone_subject_ref(CALLER)


def _track(recording: Recording, name: str) -> np.ndarray:
    with recording_reader(recording) as reader:
        frames = list(reader.track_frames(name))
    total = max((f.start_sample + len(f.pcm) // 2 for f in frames), default=0)
    out = np.zeros(total, dtype=np.int16)
    for f in frames:
        out[f.start_sample : f.start_sample + len(f.pcm) // 2] = np.frombuffer(f.pcm, "<i2")
    return out


def _read(tenant, recording_id):  # type: ignore[no-untyped-def]
    with tenant_context(tenant):
        recording = Recording.objects.get(id=recording_id)
        return recording, _track(recording, "caller"), _track(recording, "agent")


def _exists(tenant, call_id) -> bool:  # type: ignore[no-untyped-def]
    with tenant_context(tenant):
        return Recording.objects.filter(call_id=call_id).exists()


async def _settle(gate: CallGate) -> None:
    for task in list(gate._ops):
        await task


async def test_only_audio_between_consent_and_revocation_is_recorded(acme_us, storage):
    call, subject = await asyncio.to_thread(_new_call, acme_us)
    gate = _gate(acme_us, call.id, subject)
    consent = gate.consent_begin(requirement=Requirement.EXPLICIT, announcement_version="ann-1")
    before, during, after = _frames(50, seed=1), _frames(40, seed=2), _frames(30, seed=3)
    agent = _frames(10, seed=4)

    for frame in before:
        assert gate.caller_audio(frame) is frame  # ASR hears the caller; nothing is kept
    gate.sync()
    assert not gate.recordings
    assert not gate._ops
    consent.announcement_played(at=AT, audio_offset_ms=gate.offset_ms)
    gate.sync()
    assert not gate._ops  # announced, not yet answered

    consent.speech(text="Yes, that's fine.", at=AT, audio_offset_ms=gate.offset_ms)
    gate.sync()
    for frame in during[:5]:  # while the file is being opened: held, then written
        gate.caller_audio(frame)
    await _settle(gate)
    for frame in during[5:]:
        gate.caller_audio(frame)
    for frame in agent:
        gate.agent_audio(frame)

    consent.speech(text="Please stop recording.", at=AT, audio_offset_ms=gate.offset_ms)
    assert consent.state is ConsentState.REVOKED
    gate.sync()
    for frame in after:
        gate.caller_audio(frame)
        gate.agent_audio(frame)
    consent.speech(text="Yes", at=AT, audio_offset_ms=gate.offset_ms)  # final: no restart
    gate.sync()
    await gate.close()

    assert len(gate.recordings) == 1
    recording, caller, agent_track = await asyncio.to_thread(_read, acme_us, gate.recordings[0])
    assert recording.status == RecordingStatus.FINISHED
    assert np.array_equal(caller, np.concatenate(during))
    # Agent audio goes on the caller's timeline: after everything heard so far.
    assert np.array_equal(agent_track[len(caller) :], np.concatenate(agent))
    assert not agent_track[: len(caller)].any()


async def test_a_refused_call_opens_no_recording(acme_us, storage):
    call, subject = await asyncio.to_thread(_new_call, acme_us)
    gate = _gate(acme_us, call.id, subject)
    consent = gate.consent_begin(requirement=Requirement.EXPLICIT, announcement_version="ann-1")
    consent.announcement_played(at=AT, audio_offset_ms=0)
    consent.dtmf(digit="2", at=AT, audio_offset_ms=0)
    gate.sync()
    for frame in _frames(20, seed=5):
        gate.caller_audio(frame)
    await gate.close()
    assert gate.recordings == []
    assert not await asyncio.to_thread(_exists, acme_us, call.id)
    assert not [p for p in storage.rglob("*") if p.is_file()]


def test_a_payment_step_silences_the_caller_until_its_guard_has_passed(acme_us):
    gate = _gate(acme_us, uuid.uuid4())
    loud = _frames(1, seed=6)[0]
    capture = PaymentCapture(step_id="pay-1-1", sample_rate=8000, guard_ms=100)
    capture.start(at=AT, audio_offset_ms=0)
    gate.payment_begin(capture)
    assert gate.payment_active
    assert not gate.caller_audio(loud).any()
    capture.dtmf("4")
    capture.finish(at=AT, audio_offset_ms=20)
    assert not gate.payment_active  # keys count again; the audio is still masked
    for _ in range(5):  # 100 ms of guard
        assert not gate.caller_audio(loud).any()
    assert np.array_equal(gate.caller_audio(loud), loud)
    assert gate.payment is None
    assert gate.offset_ms == 7 * 20


def test_consent_evidence_round_trips_through_its_events(acme_us):
    gate = _gate(acme_us, uuid.uuid4())
    consent = gate.consent_begin(requirement=Requirement.EXPLICIT, announcement_version="ann-7")
    evidence = [
        *consent.announcement_played(at=AT, audio_offset_ms=4000),
        *consent.dtmf(digit="1", at=AT, audio_offset_ms=6100),
        *consent.speech(text="stop recording", at=AT, audio_offset_ms=9000),
    ]
    events = [
        SimpleNamespace(type="consent.required", data={"requirement": "explicit"}),
        *(
            SimpleNamespace(type=spec_type(gate.evidence_event(e)), data=_data(gate, e))
            for e in evidence
        ),
    ]
    record = consent_from_events(events)  # type: ignore[arg-type]
    assert record.requirement is Requirement.EXPLICIT
    assert record.announcement_version == "ann-7"
    assert record.evidence == evidence
    again = _gate(acme_us, uuid.uuid4()).consent_begin(
        requirement=record.requirement, announcement_version="ann-7", earlier=record.evidence
    )
    assert again.state is ConsentState.REVOKED
    assert not again.recording_allowed


def spec_type(event: object) -> str:
    from callseal.ledger.registry import spec_for_instance

    return spec_for_instance(event).type


def _data(gate: CallGate, evidence: object) -> dict:  # type: ignore[type-arg]
    return dataclasses.asdict(gate.evidence_event(evidence))  # type: ignore[arg-type, call-overload]


def test_a_call_without_a_recorded_requirement_needs_explicit_consent():
    assert consent_from_events([]).requirement is Requirement.EXPLICIT

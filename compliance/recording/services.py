"""Recording storage: start, append, finish, play back, shred (docs/adr/0009).

Key hierarchy of one recording:

    subject key (ledger KMS, per caller)  wraps  recording KEK  (RecordingKey row)
    recording KEK                         wraps  data key       (in the file's header)
    data key                              seals  the audio chunks (docs/adr/0007)

Deleting the RecordingKey row shreds one recording; destroying the subject key shreds all
of the caller's recordings. Files live only under the tenant region's storage root.
"""

from __future__ import annotations

import hashlib
import secrets
import struct
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from callseal.crypto.aead import DecryptionFailed
from callseal.crypto.wrapping import SubjectKeyDestroyed, SubjectKeyWrapper
from callseal.ledger.envelope import on_commit, record, regional_write
from callseal.tenancy.context import TenantRef, current_tenant, tenant_context
from callseal.tenancy.permissions import Perm, require
from callseal.tenancy.selectors import tenant_object_get
from compliance.events import (
    RecordingAborted,
    RecordingAccessed,
    RecordingFinished,
    RecordingStarted,
)
from compliance.models import Recording, RecordingKey, RecordingKind, RecordingStatus
from compliance.recording.container import (
    PARTIAL_SUFFIX,
    SUFFIX,
    RecordingReader,
    RecordingWriter,
    recording_path,
)
from compliance.recording.format import RecordingCorrupt, TrackSpec
from compliance.recording.keys import AesGcmKeyWrapper
from compliance.tx import actor_name

DEFAULT_TRACKS = (TrackSpec("caller", 16000), TrackSpec("agent", 16000))
MAX_REASON = 200


class RecordingUnavailable(Exception):
    """The recording cannot be played: shredded, erased, unfinished or undecryptable."""


def storage_root(region: str) -> Path:
    return Path(settings.REGIONS[region].storage_root)


def _kek_context(recording_id: uuid.UUID) -> bytes:
    return b"callseal/recording-kek/v1|" + recording_id.bytes


def _kek_ref(recording_id: uuid.UUID) -> str:
    return f"recording-kek:{recording_id}"


@dataclass
class RecordingSession:
    """A recording being written. Owned by one call pipeline; not thread-safe."""

    recording_id: uuid.UUID
    call_id: uuid.UUID
    tenant: TenantRef
    writer: RecordingWriter
    sample_rate: int
    samples: dict[str, int] = field(default_factory=dict)


def recording_start(
    *,
    call_id: uuid.UUID,
    subject_ref: str,
    actor: str,
    tracks: Sequence[TrackSpec] = DEFAULT_TRACKS,
    kind: str = RecordingKind.ORIGINAL,
    source_id: uuid.UUID | None = None,
) -> RecordingSession:
    """Open an encrypted recording of ``call_id`` for the caller ``subject_ref``.

    Call only after consent allows recording. Appends ``recording.started``.
    """
    tenant = current_tenant()
    tracks = tuple(tracks)
    rates = {t.sample_rate for t in tracks}
    if len(rates) != 1:
        raise ValueError("all tracks of a recording share one sample rate")
    recording_id = uuid.uuid4()
    kek = secrets.token_bytes(32)
    wrapped_kek = SubjectKeyWrapper(subject_ref=subject_ref, create=True).wrap(
        kek, context=_kek_context(recording_id)
    )
    writer = RecordingWriter.create(
        storage_root=storage_root(tenant.region),
        tenant_id=tenant.id,
        recording_id=recording_id,
        tracks=tracks,
        key_wrapper=AesGcmKeyWrapper(kek, key_ref=_kek_ref(recording_id)),
    )
    try:
        with regional_write():
            Recording.objects.create(
                id=recording_id,
                tenant_id=tenant.id,
                call_id=call_id,
                subject_ref=subject_ref,
                kind=kind,
                source_id=source_id,
                status=RecordingStatus.RECORDING,
                tracks=[{"name": t.name, "sample_rate": t.sample_rate} for t in tracks],
                started_at=timezone.now(),
            )
            RecordingKey.objects.create(
                tenant_id=tenant.id,
                recording_id=recording_id,
                subject_ref=subject_ref,
                wrapped=wrapped_kek,
            )
            record(
                stream_id=f"recording-{recording_id}",
                events=[
                    RecordingStarted(
                        recording_id=str(recording_id),
                        call_id=str(call_id),
                        kind=kind,
                        tracks=[{"name": t.name, "sample_rate": t.sample_rate} for t in tracks],
                        storage_region=tenant.region,
                        source_id=str(source_id) if source_id else None,
                    )
                ],
                expected_version=0,
                actor=actor,
                subject=subject_ref,
                correlation_id=str(call_id),
            )
    except BaseException:
        writer.abort()
        _remove_files(tenant, recording_id)
        raise
    return RecordingSession(
        recording_id=recording_id,
        call_id=call_id,
        tenant=tenant,
        writer=writer,
        sample_rate=rates.pop(),
        samples={t.name: 0 for t in tracks},
    )


def recording_append(
    *, session: RecordingSession, track: str, pcm: bytes, start_sample: int | None = None
) -> None:
    """Append PCM16LE audio to ``track`` (at ``start_sample``, or after its last frame)."""
    session.writer.write(track=track, pcm=pcm, start_sample=start_sample)
    begin = session.samples[track] if start_sample is None else start_sample
    session.samples[track] = max(session.samples[track], begin + len(pcm) // 2)


def recording_finish(*, session: RecordingSession, actor: str) -> Recording:
    """Seal and publish the file, then record ``recording.finished`` with its SHA-256."""
    with tenant_context(session.tenant):
        path = session.writer.close()
        assert path is not None
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        total = max(session.samples.values(), default=0)
        with regional_write():
            recording = Recording.objects.select_for_update().get(
                tenant_id=session.tenant.id, id=session.recording_id
            )
            recording.status = RecordingStatus.FINISHED
            recording.finished_at = timezone.now()
            recording.duration_ms = total * 1000 // session.sample_rate
            recording.size_bytes = path.stat().st_size
            recording.sha256 = digest.hexdigest()
            recording.tracks = [
                {**t, "samples": session.samples[t["name"]]} for t in recording.tracks
            ]
            recording.save()
            record(
                stream_id=f"recording-{recording.id}",
                events=[
                    RecordingFinished(
                        recording_id=str(recording.id),
                        call_id=str(recording.call_id),
                        duration_ms=recording.duration_ms,
                        size_bytes=recording.size_bytes,
                        sha256=recording.sha256,
                    )
                ],
                actor=actor,
                correlation_id=str(recording.call_id),
            )
            if recording.kind == RecordingKind.ORIGINAL and settings.CALLSEAL_WORD_TRANSCRIBER:
                _schedule_redaction(recording.id)
    return recording


def _schedule_redaction(recording_id: uuid.UUID) -> None:
    from compliance.tasks import redact_recording

    # After commit: the worker must find the finished row (STYLE: never .delay() inside).
    on_commit(lambda: redact_recording.apply_async(args=[str(recording_id)]))


def recording_abort(*, session: RecordingSession, actor: str, reason: str) -> None:
    """Stop without publishing (e.g. consent revoked): the partial file is removed."""
    with tenant_context(session.tenant):
        session.writer.abort()
        with regional_write():
            Recording.objects.filter(tenant_id=session.tenant.id, id=session.recording_id).update(
                status=RecordingStatus.ABORTED, finished_at=timezone.now()
            )
            RecordingKey.objects.filter(
                tenant_id=session.tenant.id, recording_id=session.recording_id
            ).delete()
            record(
                stream_id=f"recording-{session.recording_id}",
                events=[
                    RecordingAborted(
                        recording_id=str(session.recording_id),
                        call_id=str(session.call_id),
                        reason=reason[:64],
                    )
                ],
                actor=actor,
            )
        _remove_files(session.tenant, session.recording_id)


def _remove_files(tenant: TenantRef, recording_id: uuid.UUID) -> None:
    final = recording_path(
        storage_root=storage_root(tenant.region), tenant_id=tenant.id, recording_id=recording_id
    )
    final.unlink(missing_ok=True)
    final.with_name(final.name.removesuffix(SUFFIX) + PARTIAL_SUFFIX).unlink(missing_ok=True)


def recording_shred(*, recording: Recording, reason: str) -> None:
    """Crypto-shred one recording: delete its KEK row, then its file. Caller holds the
    transaction and appends the event that explains why (retention or erasure)."""
    tenant = current_tenant()
    RecordingKey.objects.filter(tenant_id=tenant.id, recording_id=recording.id).delete()
    Recording.objects.filter(tenant_id=tenant.id, id=recording.id).update(
        status=RecordingStatus.SHREDDED, shredded_at=timezone.now(), shred_reason=reason
    )
    _remove_files(tenant, recording.id)


def recording_reader(recording: Recording) -> RecordingReader:
    """Open a finished recording for decryption; RecordingUnavailable when keys are gone."""
    tenant = current_tenant()
    if recording.status == RecordingStatus.SHREDDED:
        raise RecordingUnavailable(
            f"recording {recording.id} was shredded ({recording.shred_reason})"
        )
    if recording.status != RecordingStatus.FINISHED:
        raise RecordingUnavailable(f"recording {recording.id} is {recording.status}, not finished")
    row = RecordingKey.objects.filter(tenant_id=tenant.id, recording_id=recording.id).first()
    if row is None:
        raise RecordingUnavailable(f"recording {recording.id} has no key (shredded)")
    try:
        kek = SubjectKeyWrapper(subject_ref=recording.subject_ref).unwrap(
            bytes(row.wrapped), context=_kek_context(recording.id)
        )
    except SubjectKeyDestroyed:
        raise RecordingUnavailable(f"recording {recording.id}: the caller was erased") from None
    except DecryptionFailed:
        raise RecordingCorrupt(f"recording {recording.id}: its key does not unwrap") from None
    path = recording_path(
        storage_root=storage_root(tenant.region), tenant_id=tenant.id, recording_id=recording.id
    )
    try:
        return RecordingReader.open(
            path, key_wrapper=AesGcmKeyWrapper(kek, key_ref=_kek_ref(recording.id))
        )
    except FileNotFoundError:
        raise RecordingUnavailable(f"recording {recording.id}: file missing") from None


@dataclass(frozen=True, slots=True)
class Playback:
    recording_id: uuid.UUID
    content_type: str
    filename: str
    content_length: int
    chunks: Iterator[bytes]


def recording_open_for_playback(
    *, actor_membership: object, recording_id: uuid.UUID, reason: str
) -> Playback:
    """Authorise, verify and open a recording as a streamed WAV; appends ``recording.accessed``.

    Originals need PLAY_ORIGINAL_RECORDING, redacted copies PLAY_RECORDING. The whole file
    is authenticated before the first byte goes out, so a truncated or spliced recording
    raises RecordingCorrupt and nothing unauthenticated is ever played.
    """
    require(actor_membership, Perm.PLAY_RECORDING)
    recording = tenant_object_get(Recording, id=recording_id)
    if recording.kind == RecordingKind.ORIGINAL:
        require(actor_membership, Perm.PLAY_ORIGINAL_RECORDING)
    reason = (reason or "").strip()
    if not reason or len(reason) > MAX_REASON:
        raise ValidationError(f"give a reason for listening (1-{MAX_REASON} characters)")
    with recording_reader(recording) as reader:
        for _ in reader.chunks():
            pass
    user = getattr(actor_membership, "user", None)
    with regional_write():
        record(
            stream_id=f"recording-{recording.id}",
            events=[
                RecordingAccessed(
                    recording_id=str(recording.id),
                    kind=recording.kind,
                    user_id=int(getattr(actor_membership, "user_id", 0) or 0),
                    username=str(getattr(user, "username", "")),
                    role=str(getattr(actor_membership, "role", "")),
                    reason=reason,
                )
            ],
            actor=actor_name(actor_membership),
        )
    tracks = [t["name"] for t in recording.tracks]
    rate = int(recording.tracks[0]["sample_rate"])
    total = max((int(t.get("samples", 0)) for t in recording.tracks), default=0)
    data_bytes = total * len(tracks) * 2
    return Playback(
        recording_id=recording.id,
        content_type="audio/wav",
        filename=f"recording-{recording.id}.wav",
        content_length=44 + data_bytes,
        chunks=_wav_stream(recording, tracks=tracks, rate=rate, total=total),
    )


def wav_header(*, channels: int, sample_rate: int, data_bytes: int) -> bytes:
    block = channels * 2
    return (
        b"RIFF"
        + struct.pack("<I", 36 + data_bytes)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, channels, sample_rate, sample_rate * block, block, 16)
        + b"data"
        + struct.pack("<I", data_bytes)
    )


def _wav_stream(
    recording: Recording, *, tracks: list[str], rate: int, total: int
) -> Iterator[bytes]:
    """Interleave the tracks (one WAV channel each), silence where a track has no audio."""
    tenant = current_tenant()
    yield wav_header(channels=len(tracks), sample_rate=rate, data_bytes=total * len(tracks) * 2)
    with tenant_context(tenant), recording_reader(recording) as reader:
        yield from interleave(reader.frames(), tracks=tracks, total=total)


def interleave(frames: Iterator[object], *, tracks: list[str], total: int) -> Iterator[bytes]:
    """PCM16 frames of named tracks (``Frame``) → interleaved PCM16 of ``total`` samples."""
    import numpy as np

    index = {name: i for i, name in enumerate(tracks)}
    buffers = [bytearray() for _ in tracks]
    emitted = 0  # samples already yielded, per channel

    def take(upto: int) -> bytes:
        out = np.zeros((upto - emitted, len(tracks)), dtype="<i2")
        for i, buf in enumerate(buffers):
            have = min(len(buf) // 2, upto - emitted)
            out[:have, i] = np.frombuffer(bytes(buf[: have * 2]), dtype="<i2")
            del buf[: have * 2]
        return out.tobytes()

    for frame in frames:
        i = index[frame.track]  # type: ignore[attr-defined]
        start = frame.start_sample  # type: ignore[attr-defined]
        buf = buffers[i]
        gap = start - (emitted + len(buf) // 2)
        if gap > 0:
            buf += bytes(2 * gap)
        buf += frame.pcm  # type: ignore[attr-defined]
        ready = min(emitted + len(b) // 2 for b in buffers)
        if ready - emitted >= 8000:
            yield take(ready)
            emitted = ready
    if total > emitted:
        yield take(total)

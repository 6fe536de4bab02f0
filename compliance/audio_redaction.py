"""Audio redaction: a copy of a recording with a 1 kHz tone over every redacted word.

``redact_audio`` is pure (PCM in, PCM out). ``recording_redact`` reads a finished
recording, asks a word-timing transcriber for each track, runs the transcript redaction
(compliance.redaction) over the words, tones out the time spans of every word that
overlaps a redacted entity, and stores the result as a new, encrypted recording of kind
``redacted``. The transcriber is injectable: ``settings.CALLSEAL_WORD_TRANSCRIBER`` names a
callable ``(pcm: bytes, sample_rate: int) -> Sequence[Word]``; faster-whisper with
``word_timestamps=True`` is the production one (inference app).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.utils.module_loading import import_string

from callseal.ledger.envelope import record, regional_write
from callseal.tenancy.selectors import tenant_object_get
from compliance.events import RecordingRedacted
from compliance.models import Recording, RecordingKind
from compliance.recording.format import TrackSpec
from compliance.recording.services import (
    recording_append,
    recording_finish,
    recording_reader,
    recording_start,
)

TONE_HZ = 1000.0
# -12 dBFS: clearly audible as a bleep, well short of clipping.
TONE_AMPLITUDE = round(32767 * 10 ** (-12 / 20))
# Word timestamps from ASR are approximate (tens of ms); widen each span so the edges of a
# redacted word are covered too.
SPAN_PADDING_S = 0.08


@dataclass(frozen=True, slots=True)
class Word:
    text: str
    start: float  # seconds from the start of the track
    end: float


Transcriber = Callable[[bytes, int], Sequence[Word]]


def redact_audio(pcm: bytes, sample_rate: int, spans: Sequence[tuple[float, float]]) -> bytes:
    """Replace each (start, end) span (seconds) of mono PCM16LE with a 1 kHz tone.

    Samples from ``floor(start * rate)`` to ``ceil(end * rate)`` (exclusive) are replaced;
    spans past the end are clipped. The tone's phase follows the absolute sample index, so
    adjacent spans join without a click. Everything outside the spans is copied unchanged.
    """
    if sample_rate <= 0 or sample_rate > 192000:
        raise ValueError("sample_rate must be a positive rate in Hz")
    if len(pcm) % 2:
        raise ValueError("pcm must be PCM16LE (an even number of bytes)")
    samples = np.frombuffer(pcm, dtype="<i2").copy()
    for start, end in spans:
        if not (math.isfinite(start) and math.isfinite(end)) or start < 0 or end <= start:
            raise ValueError(f"bad span ({start}, {end}): need 0 <= start < end")
        first = math.floor(start * sample_rate)
        last = min(math.ceil(end * sample_rate), len(samples))
        if first >= last:
            continue
        n = np.arange(first, last)
        samples[first:last] = np.round(
            TONE_AMPLITUDE * np.sin(2 * np.pi * TONE_HZ * n / sample_rate)
        ).astype("<i2")
    return samples.tobytes()


def redacted_word_spans(words: Sequence[Word]) -> list[tuple[float, float]]:
    """Time spans of the words that transcript redaction would hide."""
    from compliance.redaction import redact_text

    text_parts: list[str] = []
    offsets: list[tuple[int, int]] = []
    position = 0
    for word in words:
        text_parts.append(word.text)
        offsets.append((position, position + len(word.text)))
        position += len(word.text) + 1
    entities = redact_text(" ".join(text_parts)).entities
    spans = []
    for word, (begin, end) in zip(words, offsets, strict=True):
        if any(e.start < end and begin < e.end for e in entities):
            spans.append((max(0.0, word.start - SPAN_PADDING_S), word.end + SPAN_PADDING_S))
    return spans


def default_transcriber() -> Transcriber:
    path = getattr(settings, "CALLSEAL_WORD_TRANSCRIBER", "")
    if not path:
        raise LookupError(
            "no word-timing transcriber configured (settings.CALLSEAL_WORD_TRANSCRIBER)"
        )
    transcriber: Transcriber = import_string(path)
    return transcriber


def recording_redact(
    *, recording_id: uuid.UUID, transcriber: Transcriber, transcriber_name: str, actor: str
) -> Recording:
    """Store a redacted copy of a finished original recording; appends recording.redacted.

    The source is read (and authenticated) completely before anything is written, so a
    corrupt source raises RecordingCorrupt and leaves no copy.
    """
    source = tenant_object_get(Recording, id=recording_id)
    if source.kind != RecordingKind.ORIGINAL:
        raise ValueError("only original recordings are redacted")
    tracks = [TrackSpec(t["name"], int(t["sample_rate"])) for t in source.tracks]
    audio = {t.name: bytearray() for t in tracks}
    with recording_reader(source) as reader:
        for frame in reader.frames():
            buf = audio[frame.track]
            gap = frame.start_sample * 2 - len(buf)
            if gap > 0:
                buf += bytes(gap)
            buf += frame.pcm
    redacted: dict[str, bytes] = {}
    span_count = 0
    redacted_ms = 0
    for track in tracks:
        pcm = bytes(audio[track.name])
        spans = redacted_word_spans(transcriber(pcm, track.sample_rate)) if pcm else []
        span_count += len(spans)
        redacted_ms += round(sum(end - start for start, end in spans) * 1000)
        redacted[track.name] = redact_audio(pcm, track.sample_rate, spans)
    session = recording_start(
        call_id=source.call_id,
        subject_ref=source.subject_ref,
        actor=actor,
        tracks=tracks,
        kind=RecordingKind.REDACTED,
        source_id=source.id,
    )
    for name, pcm in redacted.items():
        if pcm:
            for offset in range(0, len(pcm), 1 << 19):
                recording_append(session=session, track=name, pcm=pcm[offset : offset + (1 << 19)])
    copy = recording_finish(session=session, actor=actor)
    with regional_write():
        record(
            stream_id=f"recording-{source.id}",
            events=[
                RecordingRedacted(
                    source_id=str(source.id),
                    redacted_id=str(copy.id),
                    spans=span_count,
                    redacted_ms=redacted_ms,
                    transcriber=transcriber_name,
                )
            ],
            actor=actor,
            correlation_id=str(source.call_id),
        )
    return copy

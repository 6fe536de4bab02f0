"""Audio redaction on real synthetic speech (espeak-ng): a 1 kHz tone over exactly the spans."""

from __future__ import annotations

import io
import math
import subprocess
import wave
from functools import cache

import numpy as np
import pytest
import soxr

from callseal.celery import app
from callseal.ledger.selectors import ledger_read_stream
from callseal.tenancy.router import region_alias
from compliance.audio_redaction import (
    TONE_AMPLITUDE,
    Word,
    recording_redact,
    redact_audio,
)
from compliance.models import Recording, RecordingKind
from compliance.recording.services import recording_reader
from tests.compliance.conftest import make_call, record
from tests.conftest import ALL_DATABASES

RATE = 16000


@cache
def speak(text: str) -> bytes:
    """espeak-ng speech for ``text``, resampled to 16 kHz mono PCM16LE."""
    wav = subprocess.run(
        ["espeak-ng", "--stdout", "-s", "170", text], check=True, capture_output=True
    ).stdout
    with wave.open(io.BytesIO(wav)) as reader:
        rate = reader.getframerate()
        samples = np.frombuffer(reader.readframes(reader.getnframes()), dtype="<i2")
    resampled = soxr.resample(samples.astype(np.float32) / 32768, rate, RATE)
    return (np.clip(resampled, -1, 1) * 32767).astype("<i2").tobytes()


def silence(seconds: float) -> bytes:
    return bytes(2 * round(seconds * RATE))


def utterance(words: list[str], gap: float = 0.05) -> tuple[bytes, list[Word]]:
    """Words spoken one by one with a known gap: the alignment is known exactly."""
    pcm = bytearray()
    timings = []
    for text in words:
        start = len(pcm) // 2 / RATE
        pcm += speak(text)
        timings.append(Word(text=text, start=start, end=len(pcm) // 2 / RATE))
        pcm += silence(gap)
    return bytes(pcm), timings


def tone_share(pcm: bytes, hz: float = 1000.0) -> float:
    """Fraction of the signal's energy within ±20 Hz of ``hz``."""
    x = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    spectrum = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / RATE)
    return float(spectrum[np.abs(freqs - hz) <= 20].sum() / spectrum.sum())


def test_tone_replaces_exactly_the_span_and_nothing_else():
    before, card = speak("my card number is"), speak("four one one one two two two two")
    pcm = before + silence(0.2) + card + silence(0.2) + speak("thank you")
    start = (len(before) // 2 + round(0.2 * RATE)) / RATE
    end = start + len(card) // 2 / RATE

    out = redact_audio(pcm, RATE, [(start, end)])

    first, last = math.floor(start * RATE), math.ceil(end * RATE)
    assert len(out) == len(pcm)
    assert out[: 2 * first] == pcm[: 2 * first]
    assert out[2 * last :] == pcm[2 * last :]
    n = np.arange(first, last)
    expected = np.round(TONE_AMPLITUDE * np.sin(2 * np.pi * 1000 * n / RATE)).astype("<i2")
    assert out[2 * first : 2 * last] == expected.tobytes()
    assert tone_share(out[2 * first : 2 * last]) > 0.99
    assert tone_share(pcm[2 * first : 2 * last]) < 0.2  # the speech itself is not a tone


def test_spans_are_clipped_to_the_audio_and_bad_input_is_refused():
    pcm = speak("hello")
    duration = len(pcm) // 2 / RATE
    out = redact_audio(pcm, RATE, [(duration - 0.1, duration + 5)])
    assert len(out) == len(pcm)
    assert (
        out[: 2 * math.floor((duration - 0.1) * RATE)]
        == pcm[: 2 * math.floor((duration - 0.1) * RATE)]
    )
    assert redact_audio(pcm, RATE, [(duration + 1, duration + 2)]) == pcm
    for spans in ([(0.5, 0.2)], [(-1.0, 0.2)], [(0.1, float("nan"))]):
        with pytest.raises(ValueError, match="bad span"):
            redact_audio(pcm, RATE, spans)
    with pytest.raises(ValueError, match="even number"):
        redact_audio(pcm[:-1], RATE, [])
    with pytest.raises(ValueError, match="sample_rate"):
        redact_audio(pcm, 0, [])


CARD_WORDS = ["my", "card", "number", "is"] + ["four"] + ["one"] * 15 + ["thanks"]


@pytest.mark.django_db(databases=ALL_DATABASES)
def test_redacted_copy_tones_out_the_card_number_the_transcript_redaction_finds(
    us_context, storage
):
    pcm, words = utterance(CARD_WORDS)
    source_id = record(call_id=make_call().id, caller=pcm)

    copy = recording_redact(
        recording_id=source_id,
        transcriber=lambda audio, rate: words if audio == pcm and rate == RATE else [],
        transcriber_name="known-alignment",
        actor="test",
    )

    assert (copy.kind, copy.source_id) == (RecordingKind.REDACTED, source_id)
    with recording_reader(Recording.objects.get(id=copy.id)) as reader:
        redacted = b"".join(f.pcm for f in reader.track_frames("caller"))
    assert len(redacted) == len(pcm)
    digits = words[4:20]
    card_start = math.floor((digits[0].start - 0.08) * RATE)
    card_end = math.ceil((digits[-1].end + 0.08) * RATE)
    assert tone_share(redacted[2 * card_start : 2 * card_end]) > 0.95
    keep_end = math.floor((digits[0].start - 0.08) * RATE)
    assert redacted[: 2 * keep_end] == pcm[: 2 * keep_end]
    # "thanks" survives, but for its first 30 ms under the last digit's 80 ms padding.
    assert redacted[2 * card_end :] == pcm[2 * card_end :]
    assert card_end < len(pcm) // 2 - RATE // 10
    events = ledger_read_stream(stream_id=f"recording-{source_id}")
    assert events[-1].type == "recording.redacted"
    assert events[-1].data == {
        "source_id": str(source_id),
        "redacted_id": str(copy.id),
        "spans": 16,
        "redacted_ms": events[-1].data["redacted_ms"],
        "transcriber": "known-alignment",
    }
    assert events[-1].data["redacted_ms"] >= round((digits[-1].end - digits[0].start) * 1000)


KNOWN: dict[bytes, list[Word]] = {}


def known_alignment(pcm: bytes, sample_rate: int) -> list[Word]:
    """The word timings of audio this test module built word by word (settings hook)."""
    return KNOWN.get(pcm, [])


@pytest.mark.django_db(databases=ALL_DATABASES)
def test_finishing_a_recording_schedules_its_redaction(
    us_context, storage, settings, django_capture_on_commit_callbacks
):
    settings.CALLSEAL_WORD_TRANSCRIBER = f"{__name__}.known_alignment"
    pcm, words = utterance(CARD_WORDS)
    KNOWN[pcm] = words
    app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(
            using=region_alias("us"), execute=True
        ) as callbacks:
            source_id = record(call_id=make_call().id, caller=pcm)
    finally:
        app.conf.task_always_eager = False
    # The ledger registers its own on-commit bookkeeping (the head guess); ours is the rest.
    scheduled = [c for c in callbacks if not c.__module__.startswith("callseal.ledger")]
    assert len(scheduled) == 1
    (copy,) = Recording.objects.filter(kind=RecordingKind.REDACTED)
    assert copy.source_id == source_id
    assert ledger_read_stream(stream_id=f"recording-{source_id}")[-1].data["spans"] == 16


@pytest.mark.slow
@pytest.mark.django_db(databases=ALL_DATABASES)
def test_faster_whisper_word_timings_tone_out_a_spoken_card_number(us_context, storage):
    """The production transcriber (CALLSEAL_WORD_TRANSCRIBER's default): Whisper's word
    timings, not a known alignment, place the tone; the copy no longer says the number."""
    from inference.words import transcribe_words, whisper_words

    card = "four five three nine one four eight eight zero three four three six four six seven"
    pcm = speak("Hello, I would like to pay.") + silence(0.4)
    pcm += speak(f"My card number is {card}.") + silence(0.4) + speak("Thank you very much.")
    source_id = record(call_id=make_call().id, caller=pcm)

    copy = recording_redact(
        recording_id=source_id,
        transcriber=whisper_words,
        transcriber_name="inference.words.whisper_words",
        actor="test",
    )

    with recording_reader(Recording.objects.get(id=copy.id)) as reader:
        redacted = b"".join(f.pcm for f in reader.track_frames("caller"))
    assert len(redacted) == len(pcm)
    before = " ".join(w.text for w in transcribe_words(pcm, RATE, region="us")).lower()
    after = " ".join(w.text for w in transcribe_words(redacted, RATE, region="us")).lower()
    digits = [c for c in before if c.isdigit()]
    assert len(digits) >= 12, before  # Whisper wrote the number as digits
    assert sum(c.isdigit() for c in after) <= 2, after
    assert "thank you" in after
    assert "pay" in after
    events = ledger_read_stream(stream_id=f"recording-{source_id}")
    assert events[-1].type == "recording.redacted"
    assert events[-1].data["spans"] >= 1

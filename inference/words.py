"""Word timings of a whole recording track, for audio redaction (compliance.audio_redaction).

``whisper_words`` is the default ``CALLSEAL_WORD_TRANSCRIBER``: faster-whisper with word
timestamps over the track (faster-whisper walks long audio in 30 s windows itself), run in
the tenant region's Celery worker on that region's packaged model, so recordings never
leave their region for this step. The model is loaded once per worker process.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from functools import cache

import numpy as np
from django.conf import settings

from calls.audio import resample_once
from callseal.tenancy.context import current_tenant
from compliance.audio_redaction import Word
from inference import assets
from inference.asr import ASR_SAMPLE_RATE

# Word timings need the larger model: tiny.en drops short words ("oh", digits) that the
# redaction must find.
MODEL = "base"
_LOCK = threading.Lock()


@cache
def _model(region: str) -> object:
    from faster_whisper import WhisperModel

    location = assets.whisper_base(region=region, cache_dir=settings.VAR_DIR / "models")
    return WhisperModel(
        str(location.path), device="cpu", compute_type="int8", local_files_only=True
    )


def transcribe_words(pcm: bytes, sample_rate: int, *, region: str) -> list[Word]:
    """Words with start/end seconds from the start of the PCM16LE mono track."""
    if sample_rate <= 0 or len(pcm) % 2:
        raise ValueError("pcm must be PCM16LE at a positive sample rate")
    samples = np.frombuffer(pcm, dtype="<i2")
    if not len(samples):
        return []
    if sample_rate != ASR_SAMPLE_RATE:
        samples = resample_once(samples, in_rate=sample_rate, out_rate=ASR_SAMPLE_RATE)
    audio = samples.astype(np.float32) / 32768.0
    with _LOCK:  # one transcription at a time per worker: CTranslate2 uses every core
        model = _model(region)
        segments, _ = model.transcribe(  # type: ignore[attr-defined]
            audio,
            language="en",
            beam_size=5,
            word_timestamps=True,
            condition_on_previous_text=False,
            # Silence between turns (the track is the whole call) is skipped, not guessed at.
            vad_filter=True,
        )
        words: list[Word] = []
        for segment in segments:
            for w in segment.words or ():
                text = w.word.strip()
                if text and w.end > w.start:
                    words.append(Word(text=text, start=float(w.start), end=float(w.end)))
    return words


def whisper_words(pcm: bytes, sample_rate: int) -> Sequence[Word]:
    """``CALLSEAL_WORD_TRANSCRIBER`` signature; the model of the current tenant's region."""
    return transcribe_words(pcm, sample_rate, region=current_tenant().region)

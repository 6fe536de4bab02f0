"""Speech-to-text with faster-whisper on local model directories only."""

from __future__ import annotations

import os

# faster-whisper reaches for the Hugging Face hub when given a model *name*; we only pass
# paths, and this makes any slip fail instead of trying the network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import importlib.metadata
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from inference import assets
from inference.audio import ASR_SAMPLE_RATE

ASR_MODELS = ("tiny.en", "base")
# faster-whisper logs every call at INFO; one line per utterance is noise at call volume.
logging.getLogger("faster_whisper").setLevel(logging.WARNING)

MAX_UTTERANCE_S = 30.0  # Whisper's window; longer input is cut into several finals
# faster-whisper pads every utterance's features to Whisper's 30 s window, so a 2 s phone
# turn costs the encoder as much as 30 s of speech. CTranslate2's encoder takes shorter
# input: we pad to the utterance plus a margin, in 2 s steps, never below WINDOW_S (same
# word timestamps; WER on the phone-line clips in benchmarks/bench_asr.py). 30 turns it off.
WINDOW_S = 10.0
# Whisper's temperature fallback schedule (faster-whisper's default).
TEMPERATURES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
_FULL_FRAMES = 3000  # 30 s of 10 ms feature frames
_MARGIN_FRAMES = 100
_STEP_FRAMES = 200
_window = threading.local()  # the engine's floor, for the transcription on this thread
_patch_lock = threading.Lock()


def window_frames(content_frames: int, floor_frames: int) -> int:
    """How many feature frames the encoder sees for ``content_frames`` of audio."""
    needed = content_frames + _MARGIN_FRAMES
    stepped = -(-needed // _STEP_FRAMES) * _STEP_FRAMES
    return min(_FULL_FRAMES, max(floor_frames, stepped))


def _install_short_windows() -> None:
    """Route faster-whisper's padding through ``window_frames`` on threads that are inside
    ``AsrEngine.transcribe`` (other code in the process keeps the 30 s window)."""
    import faster_whisper.transcribe as fw

    with _patch_lock:
        if getattr(fw.pad_or_trim, "callseal_window", False):
            return
        original: Callable[..., Any] = fw.pad_or_trim

        def pad_or_trim(array: Any, length: int = _FULL_FRAMES, *, axis: int = -1) -> Any:
            floor = getattr(_window, "floor_frames", None)
            if floor is not None and length == _FULL_FRAMES:
                length = window_frames(array.shape[axis], floor)
            return original(array, length, axis=axis)

        pad_or_trim.callseal_window = True  # type: ignore[attr-defined]
        fw.pad_or_trim = pad_or_trim


@contextmanager
def _encoder_window(floor_frames: int) -> Iterator[None]:
    previous = getattr(_window, "floor_frames", None)
    _window.floor_frames = floor_frames
    try:
        yield
    finally:
        _window.floor_frames = previous


@dataclass(frozen=True, slots=True)
class Word:
    text: str
    start: float
    end: float
    probability: float


@dataclass(frozen=True, slots=True)
class Transcript:
    text: str
    language: str
    duration_s: float
    words: tuple[Word, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class ModelInfo:
    name: str
    version: str
    engine: str

    def as_dict(self) -> dict[str, str]:
        return {"model": self.name, "model_version": self.version, "engine": self.engine}


class AsrEngine:
    """One loaded Whisper model; ``transcribe`` is thread-safe up to ``num_workers`` at once
    (CTranslate2 releases the GIL, so threads run in parallel)."""

    def __init__(
        self,
        location: assets.ModelLocation,
        *,
        cpu_threads: int,
        num_workers: int,
        window_s: float = WINDOW_S,
    ) -> None:
        from faster_whisper import WhisperModel

        if not 1 <= window_s <= MAX_UTTERANCE_S:
            raise ValueError(f"window_s must be from 1 to {MAX_UTTERANCE_S:.0f} seconds")
        _install_short_windows()
        self.window_frames = round(window_s * 100)
        self.location = location
        self.english_only = location.name.endswith(".en")
        self.info = ModelInfo(
            name=location.name,
            version=location.version,
            engine=f"faster-whisper=={importlib.metadata.version('faster-whisper')}",
        )
        self._model = WhisperModel(
            str(location.path),
            device="cpu",
            compute_type="int8",
            cpu_threads=cpu_threads,
            num_workers=num_workers,
            local_files_only=True,
        )

    def transcribe(
        self,
        samples: np.ndarray,
        *,
        language: str | None = None,
        word_timestamps: bool = True,
        beam_size: int = 5,
        fallback: bool = True,
    ) -> Transcript:
        """Transcribe 16 kHz mono float32 audio (at most MAX_UTTERANCE_S seconds). With
        ``fallback`` (Whisper's default) a low-confidence result is decoded again at rising
        temperatures, sampling best-of-5 each time: up to six passes, seconds on a CPU.
        Without it the first pass stands, so a real-time turn costs one decode."""
        if self.english_only:
            language = "en"
        duration_s = len(samples) / ASR_SAMPLE_RATE
        temperatures = TEMPERATURES if fallback else TEMPERATURES[:1]
        with _encoder_window(self.window_frames):
            return self._transcribe(
                samples, language, word_timestamps, beam_size, temperatures, duration_s
            )

    def _transcribe(
        self,
        samples: np.ndarray,
        language: str | None,
        word_timestamps: bool,
        beam_size: int,
        temperatures: tuple[float, ...],
        duration_s: float,
    ) -> Transcript:
        segments, info = self._model.transcribe(
            samples,
            language=language,
            beam_size=beam_size,
            temperature=list(temperatures),
            word_timestamps=word_timestamps,
            # Each utterance stands alone: conditioning on earlier text makes Whisper
            # repeat itself on short phone turns.
            condition_on_previous_text=False,
            vad_filter=False,
            without_timestamps=not word_timestamps,
            # Speech runs at ~4 tokens a second; the bound stops a hallucination loop on
            # noise from holding a slot for hundreds of tokens.
            max_new_tokens=min(440, 16 + int(duration_s * 10)),
        )
        texts: list[str] = []
        words: list[Word] = []
        for segment in segments:
            texts.append(segment.text.strip())
            for w in segment.words or ():
                words.append(
                    Word(
                        text=w.word.strip(),
                        start=round(float(w.start), 3),
                        end=round(float(w.end), 3),
                        probability=round(float(w.probability), 3),
                    )
                )
        return Transcript(
            text=" ".join(t for t in texts if t),
            language=info.language,
            duration_s=duration_s,
            words=tuple(words),
        )


def load_asr_engines(
    *,
    region: str,
    names: tuple[str, ...],
    cache_dir: Path,
    cpu_threads: int,
    num_workers: int,
    window_s: float = WINDOW_S,
) -> dict[str, AsrEngine]:
    engines: dict[str, AsrEngine] = {}
    for name in names:
        if name == "tiny.en":
            location = assets.whisper_tiny_en(region=region)
        elif name == "base":
            location = assets.whisper_base(region=region, cache_dir=cache_dir)
        else:
            raise assets.ModelMissing(f"unknown ASR model {name!r}; choose from {ASR_MODELS}")
        engines[name] = AsrEngine(
            location, cpu_threads=cpu_threads, num_workers=num_workers, window_s=window_s
        )
    return engines

"""Speech-to-text with faster-whisper on local model directories only."""

from __future__ import annotations

import os

# faster-whisper reaches for the Hugging Face hub when given a model *name*; we only pass
# paths, and this makes any slip fail instead of trying the network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import importlib.metadata
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from inference import assets
from inference.audio import ASR_SAMPLE_RATE

ASR_MODELS = ("tiny.en", "base")
# faster-whisper logs every call at INFO; one line per utterance is noise at call volume.
logging.getLogger("faster_whisper").setLevel(logging.WARNING)

MAX_UTTERANCE_S = 30.0  # Whisper's window; longer input is cut into several finals


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
        self, location: assets.ModelLocation, *, cpu_threads: int, num_workers: int
    ) -> None:
        from faster_whisper import WhisperModel

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
    ) -> Transcript:
        """Transcribe 16 kHz mono float32 audio (at most MAX_UTTERANCE_S seconds)."""
        if self.english_only:
            language = "en"
        duration_s = len(samples) / ASR_SAMPLE_RATE
        segments, info = self._model.transcribe(
            samples,
            language=language,
            beam_size=beam_size,
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
    *, region: str, names: tuple[str, ...], cache_dir: Path, cpu_threads: int, num_workers: int
) -> dict[str, AsrEngine]:
    engines: dict[str, AsrEngine] = {}
    for name in names:
        if name == "tiny.en":
            location = assets.whisper_tiny_en(region=region)
        elif name == "base":
            location = assets.whisper_base(region=region, cache_dir=cache_dir)
        else:
            raise assets.ModelMissing(f"unknown ASR model {name!r}; choose from {ASR_MODELS}")
        engines[name] = AsrEngine(location, cpu_threads=cpu_threads, num_workers=num_workers)
    return engines

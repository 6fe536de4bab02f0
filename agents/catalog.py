"""What an AI agent may be configured with: the models and voices the regions serve.

ASR, TTS and LLM names here are the ones the regional inference service answers to
(inference/), so a configuration that validates can actually run. ``region_offer`` narrows
them to what one region has installed: only a language that a voice speaks and an ASR
model understands there can be chosen.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AsrModel:
    name: str
    languages: frozenset[str]
    description: str


@dataclass(frozen=True, slots=True)
class Voice:
    name: str
    language: str
    engine: str
    description: str
    service_voice: str = ""  # the inference service's name for it; empty: ``name``

    @property
    def served_as(self) -> str:
        return self.service_voice or self.name


LANGUAGES: dict[str, str] = {
    "en": "English",
    "de": "German",
    "fr": "French",
    "es": "Spanish",
    "it": "Italian",
    "nl": "Dutch",
    "pt": "Portuguese",
}
ASR_MODELS: dict[str, AsrModel] = {
    "tiny.en": AsrModel("tiny.en", frozenset({"en"}), "Whisper tiny.en: fastest, English only"),
    "base": AsrModel("base", frozenset(LANGUAGES), "Whisper base: multilingual"),
}
VOICES: dict[str, Voice] = {
    "joe-us": Voice("joe-us", "en", "piper", "Joe (US English, Piper)", "en_US-joe-medium"),
}
LLM_MODELS: dict[str, str] = {
    "smollm2-135m-instruct": "SmolLM2 135M Instruct (llama.cpp, CPU)",
}
TOOLS: dict[str, str] = {
    "escalate_to_human": "Hand the call to a human queue with a summary",
    "end_call": "End the call politely",
    "lookup": "Answer from the agent's knowledge base",
    "collect_payment": "Take a card payment by keypad (recording and transcription paused)",
}

# Piper's voice files are named <language>_<COUNTRY>-<name>-<quality> (en_US-joe-medium).
_PIPER_NAME = re.compile(r"^(?P<lang>[a-z]{2})_[A-Z]{2}-[A-Za-z0-9_]+-[a-z_]+$")


@dataclass(frozen=True, slots=True)
class RegionOffer:
    """The voices, ASR models and so the languages one region can serve."""

    region: str
    voices: tuple[Voice, ...]
    asr_models: tuple[AsrModel, ...]

    @property
    def languages(self) -> tuple[str, ...]:
        """Languages with a voice and an ASR model, in the catalog's order."""
        spoken = {v.language for v in self.voices}
        heard = {lang for m in self.asr_models for lang in m.languages}
        return tuple(code for code in LANGUAGES if code in spoken and code in heard)

    @property
    def default_language(self) -> str | None:
        return self.languages[0] if self.languages else None

    def voice_for(self, language: str) -> Voice | None:
        return next((v for v in self.voices if v.language == language), None)

    def asr_for(self, language: str) -> AsrModel | None:
        """The first model understanding ``language``: the catalog lists the fastest first."""
        return next((m for m in self.asr_models if language in m.languages), None)

    def voice(self, name: str) -> Voice | None:
        return next((v for v in self.voices if v.name == name), None)


def _piper_voice(name: str) -> Voice | None:
    """A voice the operator installed beside the catalog's (REGION_<R>_PIPER_VOICES_DIR)."""
    match = _PIPER_NAME.match(name)
    if match is None or match["lang"] not in LANGUAGES:
        return None
    language = LANGUAGES[match["lang"]]
    return Voice(name, match["lang"], "piper", f"{name} ({language}, Piper)")


def region_offer(region: str) -> RegionOffer:
    """What ``region`` serves: catalog voices whose files it has plus Piper voices its
    operator installed, and the ASR models that are both installed and loaded by its
    inference service (INFERENCE_ASR_MODELS, default tiny.en,base)."""
    from inference import assets

    installed = assets.piper_voices_available(region=region)
    voices = [v for v in VOICES.values() if v.served_as in installed]
    known = {v.served_as for v in VOICES.values()}
    voices += [v for name in installed if name not in known and (v := _piper_voice(name))]
    loaded = {m.strip() for m in os.environ.get("INFERENCE_ASR_MODELS", "tiny.en,base").split(",")}
    on_disk = set(assets.asr_models_installed(region=region))
    asr = tuple(m for m in ASR_MODELS.values() if m.name in loaded and m.name in on_disk)
    return RegionOffer(region=region, voices=tuple(voices), asr_models=asr)


def service_voice(name: str) -> str:
    """The inference service's voice name for an agent's configured voice."""
    voice = VOICES.get(name)
    return voice.served_as if voice is not None else name

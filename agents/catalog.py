"""What an AI agent may be configured with: the models and voices the regions serve.

ASR, TTS and LLM names here are the ones the regional inference service answers to
(inference/), so a configuration that validates can actually run.
"""

from __future__ import annotations

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
    "joe-us": Voice("joe-us", "en", "piper", "Joe (US English, Piper)"),
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

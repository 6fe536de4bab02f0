"""An AI agent's configuration as a validated value (pure Python, no Django)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from agents.catalog import ASR_MODELS, LANGUAGES, LLM_MODELS, TOOLS, VOICES, RegionOffer

LIMITS = {
    "name": 80,
    "system_prompt": 8000,
    "greeting": 500,
    "question": 300,
    "answer": 1000,
    "knowledge_entries": 200,
}
END_OF_SPEECH_MS = (200, 3000)
MAX_CALL_SECONDS = (30, 7200)


class AgentSpecError(ValueError):
    """Field-keyed problems with an agent configuration."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))
        self.errors = errors


@dataclass(frozen=True, slots=True)
class KnowledgeEntry:
    question: str
    answer: str


@dataclass(frozen=True, slots=True)
class AgentSpec:
    name: str
    system_prompt: str
    greeting: str
    language: str = "en"
    voice: str = "joe-us"
    asr_model: str = "tiny.en"
    llm_model: str = "smollm2-135m-instruct"
    end_of_speech_ms: int = 600
    max_call_seconds: int = 900
    tools: tuple[str, ...] = ("escalate_to_human", "end_call", "lookup")
    knowledge: tuple[KnowledgeEntry, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["tools"] = list(self.tools)
        data["knowledge"] = [asdict(k) for k in self.knowledge]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AgentSpec:
        values = dict(data)
        values["tools"] = tuple(values.get("tools", ()))
        values["knowledge"] = tuple(KnowledgeEntry(**k) for k in values.get("knowledge", ()))
        return cls(**values)


def _text(errors: dict[str, list[str]], key: str, value: object, *, required: bool) -> None:
    if not isinstance(value, str):
        errors.setdefault(key, []).append("must be text.")
        return
    if required and not value.strip():
        errors.setdefault(key, []).append("is required.")
    if len(value) > LIMITS[key]:
        errors.setdefault(key, []).append(f"must be at most {LIMITS[key]} characters.")


def _bounded(
    errors: dict[str, list[str]], key: str, value: object, bounds: tuple[int, int]
) -> None:
    low, high = bounds
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        errors.setdefault(key, []).append(f"must be a whole number from {low} to {high}.")


def _speech(errors: dict[str, list[str]], spec: AgentSpec, offer: RegionOffer | None) -> None:
    """Language, voice and ASR model: known, agreeing, and (with ``offer``) served."""
    if spec.language not in LANGUAGES:
        errors.setdefault("language", []).append(f"must be one of {', '.join(sorted(LANGUAGES))}.")
    elif offer is not None and spec.language not in offer.languages:
        served = ", ".join(LANGUAGES[code] for code in offer.languages) or "none"
        errors.setdefault("language", []).append(
            f"region {offer.region} has no voice and speech recognition for "
            f"{LANGUAGES[spec.language]} (it serves: {served})."
        )
    asr_models = {m.name: m for m in offer.asr_models} if offer is not None else ASR_MODELS
    asr = asr_models.get(spec.asr_model)
    if asr is None:
        errors.setdefault("asr_model", []).append(
            f"must be one of {', '.join(sorted(asr_models)) or 'none (none installed)'}."
        )
    elif spec.language in LANGUAGES and spec.language not in asr.languages:
        fits = [m.name for m in asr_models.values() if spec.language in m.languages]
        hint = f"; choose {' or '.join(fits)}" if fits else ""
        errors.setdefault("asr_model", []).append(
            f"{asr.name} does not understand {LANGUAGES[spec.language]}{hint}."
        )
    voices = {v.name: v for v in offer.voices} if offer is not None else VOICES
    voice = voices.get(spec.voice)
    if voice is None:
        errors.setdefault("voice", []).append(
            f"must be one of {', '.join(sorted(voices)) or 'none (none installed)'}."
        )
    elif spec.language in LANGUAGES and voice.language != spec.language:
        errors.setdefault("voice", []).append(
            f"{voice.name} speaks {LANGUAGES[voice.language]}, not {LANGUAGES[spec.language]}."
        )


def agent_spec_validate(spec: AgentSpec, *, offer: RegionOffer | None = None) -> AgentSpec:
    """Return ``spec`` if every field holds; else raise AgentSpecError naming each field.
    With ``offer`` (catalog.region_offer), the language, voice and ASR model must also be
    ones the tenant's region serves."""
    errors: dict[str, list[str]] = {}
    _text(errors, "name", spec.name, required=True)
    _text(errors, "system_prompt", spec.system_prompt, required=True)
    _text(errors, "greeting", spec.greeting, required=True)
    _speech(errors, spec, offer)
    if spec.llm_model not in LLM_MODELS:
        errors.setdefault("llm_model", []).append(
            f"must be one of {', '.join(sorted(LLM_MODELS))}."
        )
    _bounded(errors, "end_of_speech_ms", spec.end_of_speech_ms, END_OF_SPEECH_MS)
    _bounded(errors, "max_call_seconds", spec.max_call_seconds, MAX_CALL_SECONDS)
    unknown = [t for t in spec.tools if t not in TOOLS]
    if unknown or len(set(spec.tools)) != len(spec.tools):
        errors.setdefault("tools", []).append(
            f"must be distinct tools from {', '.join(sorted(TOOLS))}."
        )
    if len(spec.knowledge) > LIMITS["knowledge_entries"]:
        errors.setdefault("knowledge", []).append(f"at most {LIMITS['knowledge_entries']} entries.")
    for index, entry in enumerate(spec.knowledge, start=1):
        for part in ("question", "answer"):
            value = getattr(entry, part)
            if not isinstance(value, str) or not value.strip():
                errors.setdefault("knowledge", []).append(f"entry {index}: {part} is empty.")
            elif len(value) > LIMITS[part]:
                errors.setdefault("knowledge", []).append(
                    f"entry {index}: {part} is longer than {LIMITS[part]} characters."
                )
    if spec.knowledge and "lookup" not in spec.tools:
        errors.setdefault("tools", []).append("a knowledge base needs the lookup tool.")
    if errors:
        raise AgentSpecError(errors)
    return spec

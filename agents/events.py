"""Ledger event types of AI agents: configuration (no personal data: configs are business
text) and what the voice agent does on a call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from callseal.ledger.registry import Personal, register_event


@register_event("agent.configured", version=1)
@dataclass(frozen=True, slots=True)
class AgentConfigured:
    """A full configuration snapshot; ``version`` counts from 1 per agent."""

    agent_id: str
    version: int
    config: dict[str, Any]


# --- The voice agent's call events (stream ``call-<call id>``, next to calls/events.py) --
# Raw caller text is sealed under the call's raw-transcript data key (compliance/datakeys);
# the redacted text is in the clear for the console and analytics. What the agent said may
# repeat the caller, so it is sealed the same way, with a redacted copy in the clear.


@register_event("call.agent_assigned", version=1)
@dataclass(frozen=True, slots=True)
class CallAgentAssigned:
    agent_id: str
    agent_version: int
    agent_name: str


@register_event("turn.caller", version=1)
@dataclass(frozen=True, slots=True)
class TurnCaller:
    turn: int
    text: Personal[str]
    redacted_text: str
    started_ms: int  # offsets from the start of this media stream
    ended_ms: int
    stream_index: int


@register_event("turn.agent", version=1)
@dataclass(frozen=True, slots=True)
class TurnAgent:
    turn: int
    text: Personal[str]  # everything the agent generated for this turn
    heard_text: Personal[str]  # what the caller heard (by echoed marks); the context keeps it
    redacted_text: str
    interrupted: bool
    kind: str  # reply, greeting, lookup, escalation, goodbye, apology


@register_event("turn.underrun", version=1)
@dataclass(frozen=True, slots=True)
class TurnUnderrun:
    """Silence the caller heard inside one agent utterance (appended with its turn.agent,
    only when there was some): the player had nothing to send when the audio before ran
    out, or sent late. Gaps shorter than one 20 ms frame are not counted."""

    turn: int
    kind: str  # as turn.agent's
    gaps: int
    silence_ms: int  # all gaps together
    longest_ms: int


@register_event("turn.latency", version=1)
@dataclass(frozen=True, slots=True)
class TurnLatency:
    """Milliseconds from the end of the caller's speech; None where the step did not run."""

    turn: int
    asr_final_ms: int | None
    llm_first_token_ms: int | None
    tts_first_audio_ms: int | None
    first_frame_ms: int | None
    voice_to_voice_ms: int | None
    speculative: bool  # the reply was prepared during the caller's pause


@register_event("inference.hop", version=1)
@dataclass(frozen=True, slots=True)
class InferenceHop:
    """Proof of residency: one inference session (ASR utterance, LLM request, TTS reply)."""

    turn: int
    service: str  # asr, llm, tts
    region: str
    model: str
    model_version: str
    engine: str
    endpoint: str  # host:port
    home_region: str  # the tenant's region; differs from region only by tenant policy
    cached: bool  # audio synthesised earlier for this configuration and replayed


@register_event("tool.called", version=1)
@dataclass(frozen=True, slots=True)
class ToolCalled:
    turn: int
    name: str
    arguments: dict[str, Any]  # redacted text only
    result: str  # a summary of the result
    routed_by: str  # how the tool was chosen: keywords or llm


@register_event("call.escalated", version=1)
@dataclass(frozen=True, slots=True)
class CallEscalated:
    call_id: str
    reason: str
    queue: str
    summary: str  # redacted
    transcript: list[dict[str, Any]]  # [{role, text}] redacted


@register_event("agent.fallback", version=1)
@dataclass(frozen=True, slots=True)
class AgentFallback:
    turn: int
    reason: str  # inference_error, no_audio, inference_unavailable
    detail: str

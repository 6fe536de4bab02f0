"""The contract between the Media Streams consumer (transport) and a call's pipeline.

The consumer puts ``CallerAudio`` (16 kHz PCM) and ``CallerDtmf`` on a bounded queue; the
pipeline reads them as an async iterator and yields ``AgentAudio`` (to play) and
``BargeIn`` (stop playing now). The AI voice pipeline (agents app) implements the same
Protocol; ``EchoPipeline`` is the stand-in used by the simulator tests and benchmarks.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from django.conf import settings
from django.utils.module_loading import import_string

from calls.audio import PIPELINE_RATE, Pcm


@dataclass(frozen=True, slots=True)
class CallInfo:
    call_sid: str
    tenant_id: uuid.UUID
    region: str
    agent_id: uuid.UUID | None


@dataclass(frozen=True, slots=True)
class CallerAudio:
    pcm: Pcm  # int16 at PIPELINE_RATE
    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class CallerDtmf:
    digit: str


@dataclass(frozen=True, slots=True)
class AgentAudio:
    pcm: Pcm  # int16 at ``sample_rate``
    sample_rate: int = PIPELINE_RATE
    text: str = ""  # what this chunk says, recorded as heard once its mark returns


@dataclass(frozen=True, slots=True)
class BargeIn:
    reason: str = "caller_speech"


PipelineInput = CallerAudio | CallerDtmf
PipelineOutput = AgentAudio | BargeIn


class CallPipeline(Protocol):
    def run(self, inbound: AsyncIterator[PipelineInput]) -> AsyncIterator[PipelineOutput]:
        """Consume the caller's side until it ends; yield what the agent does."""
        ...


PipelineFactory = Callable[[CallInfo], CallPipeline]


class EchoPipeline:
    """Plays the caller's audio straight back, ``chunk_ms`` at a time (one mark each).
    DTMF is not echoed, so that agent frame k is always caller frame k (the simulator
    measures lag per frame on that basis)."""

    def __init__(self, info: CallInfo, *, chunk_ms: int = 20) -> None:
        self.info = info
        # Counted in inbound frames, not samples: the resampler may return a few samples
        # fewer for the first frame, and that must not hold the echo back a frame.
        self.chunk_frames = max(1, chunk_ms // 20)
        self.chunk_samples = PIPELINE_RATE * chunk_ms // 1000

    async def run(self, inbound: AsyncIterator[PipelineInput]) -> AsyncIterator[PipelineOutput]:
        pending: list[Pcm] = []
        async for item in inbound:
            if isinstance(item, CallerDtmf):
                continue
            pending.append(item.pcm)
            if len(pending) >= self.chunk_frames:
                yield AgentAudio(pcm=np.concatenate(pending) if len(pending) > 1 else pending[0])
                pending = []
        if pending:
            yield AgentAudio(pcm=np.concatenate(pending))


def pipeline_factory() -> PipelineFactory:
    """The configured pipeline class (CALLSEAL_CALL_PIPELINE, a dotted path)."""
    factory: PipelineFactory = import_string(settings.CALLSEAL_CALL_PIPELINE)
    return factory

"""The contract between the Media Streams consumer (transport) and a call's pipeline.

The consumer puts ``CallerAudio`` (PCM at the pipeline's ``input_rate``) and
``CallerDtmf`` on a bounded queue; the pipeline reads them as an async iterator and yields
``AgentAudio`` (to play), ``BargeIn`` (stop playing now) and ``HangUp`` (close the stream
from our side: the call is over). The AI voice pipeline (agents
app) implements the same Protocol; ``EchoPipeline`` and ``PlaybackPipeline`` are the
stand-ins used by the simulator tests and benchmarks.

State across streams: a call's state lives in the ledger. When a stream drops and Twilio's
``<Redirect>`` opens a new one (on any worker), the consumer reads the call's events and
hands them to ``resume(events)`` before ``run``; ``snapshot()`` is what the consumer records
in ``stream.ended.pipeline_state`` when a stream ends. A pipeline that keeps state
elsewhere in the ledger (turns, consent) reads those events in ``resume`` as well.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from django.conf import settings
from django.utils.module_loading import import_string

from calls.audio import FRAME_MS, PIPELINE_RATE, TELEPHONE_RATE, Pcm
from callseal.ledger.events import RecordedEvent

if TYPE_CHECKING:
    from compliance.callgate import CallGate


@dataclass(frozen=True, slots=True)
class CallInfo:
    call_sid: str
    tenant_id: uuid.UUID
    region: str
    agent_id: uuid.UUID | None
    # The call's ledger identity, for pipelines that append their own events (agents).
    call_id: uuid.UUID | None = None
    subject_ref: str = ""
    stream_index: int = 1
    # The stream's compliance gate (consent, recording, PCI pause); the consumer makes it.
    gate: CallGate | None = None


class PlaybackListener(Protocol):
    """Told by the player when a chunk's first frame goes out and when its mark returns
    (the caller heard it). Marks that a ``clear`` flushes are never reported."""

    def started(self, at: float) -> None: ...

    def starved(self, seconds: float, *, at_start: bool) -> None:
        """The caller heard ``seconds`` of silence before one of this chunk's frames:
        Twilio had played everything sent (``at_start``: before the chunk's first frame,
        nothing came in time; otherwise the player itself was late)."""

    def heard(self) -> None: ...


@dataclass(frozen=True, slots=True)
class CallerAudio:
    pcm: Pcm  # int16 at the pipeline's input_rate
    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class CallerDtmf:
    digit: str


@dataclass(frozen=True, slots=True)
class AgentAudio:
    pcm: Pcm  # int16 at ``sample_rate``
    sample_rate: int = PIPELINE_RATE
    text: str = ""  # what this chunk says, recorded as heard once its mark returns
    # False: more audio of the same chunk follows, so no mark after this piece (a mark per
    # 20 ms frame would double the messages both ways).
    mark: bool = True
    listener: PlaybackListener | None = None


@dataclass(frozen=True, slots=True)
class BargeIn:
    reason: str = "caller_speech"


@dataclass(frozen=True, slots=True)
class HangUp:
    """The pipeline ends the call from our side (the agent's hang-up that Twilio's REST API
    refused): the consumer closes the stream and ends the call, so the ``<Redirect>``
    Twilio then follows is answered with ``<Hangup>`` and the caller is not left in
    silence."""


PipelineInput = CallerAudio | CallerDtmf
PipelineOutput = AgentAudio | BargeIn | HangUp


class CallPipeline(Protocol):
    # The rate CallerAudio arrives at: 16 kHz for ASR; TELEPHONE_RATE spares resampling.
    input_rate: int

    def resume(self, events: Sequence[RecordedEvent]) -> None:
        """Continue a call from its ledger events (called before ``run`` on a resumed
        stream)."""
        ...

    def snapshot(self) -> dict[str, Any]:
        """JSON-safe state to record in ``stream.ended`` (what ``resume`` reads back)."""
        ...

    def run(self, inbound: AsyncIterator[PipelineInput]) -> AsyncIterator[PipelineOutput]:
        """Consume the caller's side until it ends; yield what the agent does."""
        ...


PipelineFactory = Callable[[CallInfo], CallPipeline]


def _previous_states(events: Sequence[RecordedEvent]) -> list[dict[str, Any]]:
    return [e.data["pipeline_state"] for e in events if e.type == "stream.ended"]


class EchoPipeline:
    """Plays the caller's audio straight back, frame by frame, with a mark every
    ``mark_ms``. DTMF is not echoed, so that agent frame k is always caller frame k (the
    simulator measures lag per frame on that basis). Counts what it echoed across the
    call's streams (``resume`` adds the counts recorded by earlier streams)."""

    input_rate = TELEPHONE_RATE

    def __init__(self, info: CallInfo, *, mark_ms: int = 200) -> None:
        self.info = info
        self.mark_frames = max(1, mark_ms // FRAME_MS)
        self.frames_echoed = 0  # this call, all streams
        self.marks = 0
        self._stream_frames = 0  # this stream only
        self._stream_marks = 0

    def resume(self, events: Sequence[RecordedEvent]) -> None:
        states = _previous_states(events)
        self.frames_echoed = sum(int(s.get("frames_echoed", 0)) for s in states)
        self.marks = sum(int(s.get("marks", 0)) for s in states)

    def snapshot(self) -> dict[str, Any]:
        # Per stream: resume() sums them, so a stream lost with its worker loses only its own.
        return {"frames_echoed": self._stream_frames, "marks": self._stream_marks}

    async def run(self, inbound: AsyncIterator[PipelineInput]) -> AsyncIterator[PipelineOutput]:
        since_mark = 0
        async for item in inbound:
            if isinstance(item, CallerDtmf):
                continue
            since_mark += 1
            mark = since_mark >= self.mark_frames
            if mark:
                since_mark = 0
                self._stream_marks += 1
                self.marks += 1
            self._stream_frames += 1
            self.frames_echoed += 1
            yield AgentAudio(pcm=item.pcm, sample_rate=TELEPHONE_RATE, mark=mark)


@dataclass(frozen=True, slots=True)
class PromptChunk:
    text: str
    pcm: Pcm  # int16 at TELEPHONE_RATE


def tone_prompt(texts: Sequence[str], *, chunk_ms: int = 200) -> list[PromptChunk]:
    """A prompt of tones, one chunk per text (a stand-in for TTS sentences)."""
    chunks = []
    for k, text in enumerate(texts):
        t = np.arange(TELEPHONE_RATE * chunk_ms // 1000) / TELEPHONE_RATE
        pcm = (6000 * np.sin(2 * np.pi * (300 + 40 * k) * t)).astype(np.int16)
        chunks.append(PromptChunk(text=text, pcm=pcm))
    return chunks


DEMO_PROMPT = (
    "Thank you for calling.",
    "This call may be recorded.",
    "Please tell me",
    "how I can help",
    "you today.",
    "You can also press",
    "one for billing",
    "or two for support.",
)


def frame_rms(pcm: Pcm) -> float:
    return float(np.sqrt(np.mean(pcm.astype(np.float64) ** 2))) if len(pcm) else 0.0


class PlaybackPipeline:
    """Plays a known prompt split into marked chunks, and barges in when the caller speaks
    over it: an energy VAD (``speech_rms`` over ``speech_frames`` consecutive frames) until
    the agent pipeline's Silero VAD replaces it. After a barge-in it stays silent.
    ``resume`` skips the chunks the caller heard on earlier streams (by their marks)."""

    input_rate = TELEPHONE_RATE

    def __init__(
        self,
        info: CallInfo,
        *,
        prompt: Sequence[PromptChunk] | None = None,
        speech_rms: float = 500.0,
        speech_frames: int = 1,
    ) -> None:
        self.info = info
        self.prompt = list(prompt) if prompt is not None else tone_prompt(DEMO_PROMPT)
        self.speech_rms = speech_rms
        self.speech_frames = speech_frames
        self.first_chunk = 0  # prompt index to start from
        self.interrupted = False

    def resume(self, events: Sequence[RecordedEvent]) -> None:
        # Chunk ids are per stream (1-based, in prompt order from where the stream began),
        # so walk the streams in order.
        start = 0
        for event in events:
            if event.type == "stream.ended":
                heard = event.data["heard_chunk_ids"]
                start += max(heard, default=0)
            elif event.type == "turn.interrupted":
                self.interrupted = True
        self.first_chunk = min(start, len(self.prompt))

    def snapshot(self) -> dict[str, Any]:
        return {"first_chunk": self.first_chunk, "interrupted": self.interrupted}

    async def run(self, inbound: AsyncIterator[PipelineInput]) -> AsyncIterator[PipelineOutput]:
        if not self.interrupted:
            for chunk in self.prompt[self.first_chunk :]:
                yield AgentAudio(pcm=chunk.pcm, sample_rate=TELEPHONE_RATE, text=chunk.text)
        loud = 0
        async for item in inbound:
            if self.interrupted or isinstance(item, CallerDtmf):
                continue
            loud = loud + 1 if frame_rms(item.pcm) > self.speech_rms else 0
            if loud >= self.speech_frames:
                self.interrupted = True
                yield BargeIn()


def pipeline_factory() -> PipelineFactory:
    """The configured pipeline class (CALLSEAL_CALL_PIPELINE, a dotted path)."""
    factory: PipelineFactory = import_string(settings.CALLSEAL_CALL_PIPELINE)
    return factory

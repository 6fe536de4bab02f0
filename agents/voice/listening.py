"""The caller's side of the call: Silero VAD (thread pool) → turn detection → ASR streamed
while the caller speaks, the level peek, partial transcripts and the moment a speculative
reply may start. The listener decides nothing about replies: it tells the coordinator
(``TurnSignals``) that a turn started, paused, resumed or ended, and what the caller's
words are so far.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from django.conf import settings

from agents.pipeline.turns import TurnDetector, TurnEnded, TurnStarted
from agents.pipeline.vad import VadFrame, VadStream
from agents.voice.endpoints import Endpoint, first_answering
from agents.voice.owned import OwnedTasks
from agents.voice.speech import AsrTurn, Speech
from calls.audio import PIPELINE_RATE
from calls.pipeline import CallerAudio, CallerDtmf, PipelineInput
from inference.client import AsrStream, InferenceClient

# VAD and PCM conversion for every call of the process; small steps, kept off the loop.
EXECUTOR = ThreadPoolExecutor(max_workers=2, thread_name_prefix="agent-vad")
RING_SECONDS = 2.0  # caller audio kept for the turn's pre-roll
FRAME_MS = 32  # Silero's frame: 512 samples at 16 kHz


@dataclass
class CallerTurn:
    """One turn of the caller and the reply to it. The listener fills the caller's side
    (times, ASR, the peek); the coordinator owns the reply and its supervisor; the replier
    and the speaker fill the words, the stage times and the outcome."""

    number: int
    started_s: float
    asr: AsrTurn
    raw_ok: bool = False  # consent held when the caller began: their raw words may be kept
    ended_s: float | None = None
    end_clock: float | None = None  # monotonic time the caller stopped speaking
    committed: asyncio.Event = field(default_factory=asyncio.Event)
    speculative: bool = False
    faint_frames: int = 0  # trailing frames below CALLSEAL_AGENT_FAINT_DBFS
    peek: asyncio.Future[str | None] | None = None  # ASR's answer at the level's drop
    text: str | None = None
    recorded: bool = False
    outcome: asyncio.Event = field(default_factory=asyncio.Event)  # audio, silence or error
    error: tuple[str, str] | None = None
    t: dict[str, float] = field(default_factory=dict)
    reply: asyncio.Task[None] | None = None
    supervisor: asyncio.Task[None] | None = None
    speech: Speech | None = None

    def ms(self, key: str) -> int | None:
        """Milliseconds from the caller's end of speech to the stage ``key``."""
        if key not in self.t or self.end_clock is None:
            return None
        return max(0, round((self.t[key] - self.end_clock) * 1000))


class TurnSignals(Protocol):
    """What the listener tells its coordinator (agents/voice/pipeline.py)."""

    @property
    def listening(self) -> bool:
        """No reply is under way: the caller's words may start one."""

    def turn_starting(self, previous: CallerTurn | None) -> tuple[int, bool] | None:
        """The caller began speaking: the new turn's number and whether their raw words
        may be kept, or None when the call takes no more turns."""

    def speculate(self, turn: CallerTurn) -> None:
        """The caller paused long enough for a speculative reply."""

    def resumed_speaking(self, turn: CallerTurn) -> None:
        """The caller went on speaking after a speculative reply began."""

    def turn_ended(self, turn: CallerTurn) -> None:
        """The end-of-speech silence confirmed the turn."""

    def read_ahead(self, number: int, text: str) -> Coroutine[Any, Any, None]:
        """The caller's words so far, for the LLM server to read ahead."""

    def dtmf(self, digit: str) -> None: ...


AsrFactory = Callable[[Callable[[str], None] | None], AsrTurn]


def asr_factory(
    *,
    endpoints: Sequence[Endpoint],
    clients: Mapping[str, InferenceClient],
    model: str,
    language: str,
) -> AsrFactory:
    """Each turn's ASR session, on the first region whose service answers."""

    @asynccontextmanager
    async def connect() -> AsyncIterator[tuple[AsrStream, str]]:
        async def opened(endpoint: Endpoint) -> AsrStream:
            stream = clients[endpoint.region].asr(
                model=model, language=language, partials=settings.CALLSEAL_AGENT_ASR_PARTIALS
            )
            await stream.__aenter__()
            return stream

        stream, endpoint = await first_answering(endpoints, opened)
        try:
            yield stream, endpoint.inference_host
        finally:
            await stream.__aexit__(None, None, None)

    def new_asr(on_partial: Callable[[str], None] | None) -> AsrTurn:
        return AsrTurn(connect, on_partial=on_partial)

    return new_asr


class Listener:
    def __init__(
        self,
        signals: TurnSignals,
        *,
        turns: TurnDetector,
        new_asr: AsrFactory,
        vad: VadStream | None = None,
    ) -> None:
        self.signals = signals
        self.turns = turns
        self.vad = vad
        self.new_asr = new_asr
        self.turn: CallerTurn | None = None
        self.tasks = OwnedTasks()
        self._ring: deque[VadFrame] = deque(maxlen=int(RING_SECONDS * 1000 / FRAME_MS))
        self._clock: tuple[float, float] = (0.0, time.monotonic())  # (stream s, monotonic)
        self._prefill: asyncio.Task[None] | None = None

    async def run(self, inbound: AsyncIterator[PipelineInput]) -> None:
        """Read the caller's audio and keys until the stream ends."""
        assert self.vad is not None
        loop = asyncio.get_running_loop()
        pending: list[np.ndarray] = []
        samples = 0
        async for item in inbound:
            if isinstance(item, CallerDtmf):
                self.signals.dtmf(item.digit)
                continue
            if not isinstance(item, CallerAudio):
                continue
            pending.append(item.pcm)
            samples += len(item.pcm)
            if samples < 512:
                continue
            audio = np.concatenate(pending)
            pending, samples = [], 0
            frames = await loop.run_in_executor(EXECUTOR, self._vad_step, audio)
            if frames:
                last = frames[-1]
                self._clock = (last.start_s + 512 / PIPELINE_RATE, time.monotonic())
            for frame in frames:
                await self.on_frame(frame)

    def _vad_step(self, pcm: np.ndarray) -> list[VadFrame]:
        assert self.vad is not None
        return self.vad.feed(pcm.astype(np.float32) / 32768.0)

    def _clock_at(self, stream_s: float) -> float:
        at_s, at = self._clock
        return at - (at_s - stream_s)

    async def on_frame(self, frame: VadFrame) -> None:
        """One VAD frame: the turn's audio to ASR, then what the frame means for turns."""
        self._ring.append(frame)
        events = self.turns.feed([frame])
        turn = self.turn
        if turn is not None and turn.ended_s is None:
            turn.asr.send(frame.samples)
            self._watch_level(turn, frame)
        for event in events:
            if isinstance(event, TurnStarted):
                self._turn_started(event)
            elif isinstance(event, TurnEnded):
                self._turn_ended(event)
        turn = self.turn
        if turn is None or turn.ended_s is not None or not self.signals.listening:
            return
        silence = self.turns.silence_ms
        if silence >= settings.CALLSEAL_AGENT_SPECULATE_MS and turn.reply is None:
            turn.speculative = True
            self.signals.speculate(turn)
        elif silence == 0 and turn.reply is not None and not turn.committed.is_set():
            self.signals.resumed_speaking(turn)

    def _watch_level(self, turn: CallerTurn, frame: VadFrame) -> None:
        """The caller's level drops before Silero's probability does: after
        ``CALLSEAL_AGENT_PEEK_MS`` of faint audio ASR is asked what a final would say now,
        keeping the audio. Louder audio afterwards voids the answer (the next flush
        transcribes the whole segment); otherwise the reply takes it instead of waiting
        for a final of its own."""
        faint = 10 ** (settings.CALLSEAL_AGENT_FAINT_DBFS / 20)
        if float(np.sqrt(np.mean(np.square(frame.samples)))) >= faint:
            turn.faint_frames = 0
            turn.peek = None
            return
        turn.faint_frames += 1
        if (
            settings.CALLSEAL_AGENT_PEEK_MS
            and turn.faint_frames * FRAME_MS >= settings.CALLSEAL_AGENT_PEEK_MS
            and turn.peek is None
            and turn.reply is None
            and self.signals.listening
        ):
            number = turn.number
            peek = turn.peek = turn.asr.peek()

            def read_ahead(done: asyncio.Future[str | None]) -> None:
                # The whole question, a little before the reply asks: the LLM server
                # reads it now (the partials' read-ahead, one more time).
                if not done.cancelled() and done.result() and turn.peek is done:
                    self.on_partial(number, done.result() or "", peek=True)

            peek.add_done_callback(read_ahead)

    def _turn_started(self, event: TurnStarted) -> None:
        previous = self.turn
        started = self.signals.turn_starting(previous)
        if started is None:
            return  # escalated or ended: the caller waits for a human or hangs up
        if previous is not None:
            self.tasks.drop(previous.asr.abort())
        number, raw_ok = started
        on_partial = None
        if settings.CALLSEAL_AGENT_ASR_PARTIALS:

            def on_partial(text: str) -> None:
                self.on_partial(number, text)

        turn = CallerTurn(number=number, started_s=event.start_s, asr=self.new_asr(on_partial))
        turn.raw_ok = raw_ok
        self.turn = turn
        for frame in self._ring:  # pre-roll and the speech that started the turn
            if frame.start_s >= event.start_s - self.turns.config.pre_roll_ms / 1000:
                turn.asr.send(frame.samples)

    def _turn_ended(self, event: TurnEnded) -> None:
        turn = self.turn
        if turn is None or not self.signals.listening:
            return
        turn.ended_s = event.end_s
        turn.end_clock = self._clock_at(event.end_s)
        self.signals.turn_ended(turn)

    def on_partial(self, number: int, text: str, *, peek: bool = False) -> None:
        """A partial transcript while the caller speaks: the LLM server reads the call's
        context and the words so far, so that the reply's request finds them evaluated
        and pays only for what the caller said after. One at a time, none once the turn's
        reply has begun (it would queue ahead of it), and none from a partial while a peek
        is out (its words are older than the peek's, and reading them takes the cores the
        peek's pass needs)."""
        turn = self.turn
        if turn is None or turn.number != number or turn.reply is not None:
            return
        if turn.peek is not None and not peek:
            return
        if not self.signals.listening or (self._prefill is not None and not self._prefill.done()):
            return
        if self._prefill is not None:  # finished: only the latest stays owned
            self.tasks.forget(self._prefill)
        self._prefill = self.tasks.spawn(self.signals.read_ahead(number, text))

    async def close(self) -> None:
        await self.tasks.close()

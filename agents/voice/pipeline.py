"""The AI voice agent as a ``CallPipeline`` (calls/pipeline.py): caller audio in, agent
audio and barge-ins out, every step an event in the call's ledger stream.

Per call: Silero VAD (thread pool) → turn detection → ASR streamed while the caller speaks
→ at the first pause a speculative reply (early ASR final, LLM, first TTS audio), held
until the end-of-speech silence confirms the turn and cancelled if speech resumes → LLM
sentences → TTS → the player. Caller speech over the agent → ``BargeIn`` (clear), the reply
is cancelled and the context keeps only what the caller heard (echoed marks). A failure,
or no agent audio ``CALLSEAL_AGENT_NO_AUDIO_S`` after the caller stopped, plays the cached
apology and escalates. Ledger writes go through one owned recorder task, off the audio path.

States: greeting → listening ⇄ replying → escalated | ended. ``resume`` rebuilds them from
the ledger when a stream is redirected to another worker. ``end_call`` hangs up through
Twilio's REST API once the goodbye was heard (calls/supervision.py); when Twilio refuses,
the pipeline yields ``HangUp`` and the consumer closes the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import timezone

from agents import events as ev
from agents.catalog import service_voice
from agents.metrics import FALLBACKS, observe_turn, observe_underruns
from agents.pipeline.sentences import SentenceChunker
from agents.pipeline.turns import TurnConfig, TurnDetector, TurnEnded, TurnStarted
from agents.pipeline.vad import VadFrame, VadStream
from agents.voice import prompts, records
from agents.voice.context import Conversation, ResumedState, Turn, resumed_state
from agents.voice.endpoints import Endpoint, endpoints_for
from agents.voice.speech import AsrTurn, Speech
from agents.voice.tools import TOOLS, best_entry, route_by_keywords
from calls import supervision
from calls.audio import PIPELINE_RATE
from calls.pipeline import (
    AgentAudio,
    BargeIn,
    CallerAudio,
    CallerDtmf,
    CallInfo,
    CallPipeline,
    EchoPipeline,
    HangUp,
    PipelineInput,
    PipelineOutput,
)
from callseal.ledger.events import RecordedEvent
from compliance.consent import (
    CallConsent,
    ConsentDenied,
    ConsentError,
    ConsentGiven,
    ConsentRevoked,
    Evidence,
    announcement_text,
    announcement_version,
)
from compliance.consent_intent import carries_request, parse_consent_intent
from compliance.events import PaymentPausedEvent, PaymentResumedEvent
from compliance.pci import PaymentCapture, PaymentProcessor, SecretDigits
from compliance.policies import consent_announcement_base
from inference.client import AsrStream, InferenceClient, InferenceError, TtsDone
from inference.llm import LlmClient, LlmError, LlmServer, Message, Tool

log = logging.getLogger(__name__)
# VAD and PCM conversion for every call of the process; small steps, kept off the loop.
_EXECUTOR = ThreadPoolExecutor(max_workers=2, thread_name_prefix="agent-vad")
APOLOGY = "I'm sorry, I'm having trouble right now. Let me get a colleague to help you."
HANDOVER = "Let me connect you with a colleague."
GOODBYE = "Thank you for calling. Goodbye."
HOLD = "Please hold, a colleague will be with you shortly."
CONSENT_REPLIES = {
    ConsentGiven: "Thank you. How can I help you today?",
    ConsentDenied: "Understood, this call will not be recorded. How can I help you today?",
    ConsentRevoked: "Understood. The recording has been stopped.",
}
# The recording announcement (with the greeting) and payment prompts are heard whole.
UNINTERRUPTIBLE = frozenset({"greeting", "payment"})
# A refusal that comes with a question ("no, what are your hours?") is acknowledged
# briefly, then the question is answered; consent with one is just answered.
CONSENT_NOTES = {
    ConsentDenied: "Understood, this call will not be recorded.",
    ConsentRevoked: CONSENT_REPLIES[ConsentRevoked],
}
PAYMENT_FIELDS = (
    "Please type your card number on the keypad, then press the hash key.",
    "Now the expiry date, as four digits, month then year, then hash.",
    "And the security code from the back of the card, then hash.",
)
PAYMENT_RESULTS = {
    "approved": "Thank you, your payment was approved.",
    "declined": "I'm sorry, the card details were not accepted, so no payment was taken.",
    "timed_out": "I didn't receive the card details, so no payment was taken.",
    "error": "I'm sorry, the payment could not be processed, so no payment was taken.",
    "unavailable": "I'm sorry, I can't take a payment on this call.",
}
RING_SECONDS = 2.0  # caller audio kept for the turn's pre-roll
# end_call hangs up when the goodbye's mark comes back, or this long after its audio should
# have finished playing: a lost mark must not hold the line open.
HANG_UP_MARK_GRACE_S = 3.0
END_CALL_REASON = "end_call tool"
INFERENCE_ERRORS = (InferenceError, LlmError, OSError, TimeoutError)


def pipeline_for_call(info: CallInfo) -> CallPipeline:
    """CALLSEAL_CALL_PIPELINE's default: the agent for numbers that have one."""
    if info.agent_id is not None and info.call_id is not None:
        return AgentPipeline(info)
    return EchoPipeline(info)


class _Ack:
    """A barge-in request: the output loop yields BargeIn, then sets ``done`` (the player
    has cleared by the time the generator is resumed)."""

    def __init__(self) -> None:
        self.done = asyncio.Event()


@dataclass
class _Turn:
    number: int
    started_s: float
    asr: AsrTurn
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
    raw_ok: bool = False  # consent held when the caller began: their raw words may be kept


class AgentPipeline:
    input_rate = PIPELINE_RATE

    def __init__(self, info: CallInfo) -> None:
        assert info.call_id is not None
        assert info.agent_id is not None
        self.info = info
        self.call_id = info.call_id
        self.resumed: ResumedState | None = None
        self.state = "greeting"
        self.turn_no = 0
        self._tasks: list[asyncio.Task[Any]] = []
        self._out: asyncio.Queue[PipelineOutput | _Ack | None] = asyncio.Queue()
        self._ledger: asyncio.Queue[tuple[list[object], bool, bool] | _HangUpPending | None] = (
            asyncio.Queue()
        )
        self._turn: _Turn | None = None
        self._speech: Speech | None = None  # the utterance the caller may be hearing
        self._ring: deque[VadFrame] = deque(maxlen=int(RING_SECONDS * 1000 / 32))
        self._clock: tuple[float, float] = (0.0, time.monotonic())  # (stream s, monotonic)
        self._prompts: dict[str, prompts.CachedPrompt] = {}
        self._prefill: asyncio.Task[None] | None = None
        self._read_ahead_turn = -1  # the last turn whose context went to the LLM ahead
        self.gate = info.gate
        self._consent: CallConsent | None = None
        self._payment: PaymentCapture | None = None
        self._payment_keys = asyncio.Event()

    # --- CallPipeline ------------------------------------------------------------------
    def resume(self, events: Sequence[RecordedEvent]) -> None:
        self.resumed = resumed_state(events)

    def snapshot(self) -> dict[str, Any]:
        consent = str(self._consent.state) if self._consent is not None else None
        return {"state": self.state, "turns": self.turn_no, "consent": consent}

    async def run(self, inbound: AsyncIterator[PipelineInput]) -> AsyncIterator[PipelineOutput]:
        recorder = asyncio.create_task(self._record_loop())
        try:
            await self._setup()
            self._tasks.append(asyncio.create_task(self._start()))
            self._tasks.append(asyncio.create_task(self._listen(inbound)))
            while True:
                item = await self._out.get()
                if item is None:
                    return
                if isinstance(item, _Ack):
                    yield BargeIn()
                    item.done.set()
                    continue
                yield item
        finally:
            await self._shutdown(recorder)

    # --- setup -------------------------------------------------------------------------
    async def _setup(self) -> None:
        resumed = self.resumed
        self.setup = await database_sync_to_async(records.agent_call_setup)(
            tenant_id=self.info.tenant_id,
            call_id=self.call_id,
            call_sid=self.info.call_sid,
            agent_id=self.info.agent_id,
            subject_ref=self.info.subject_ref,
            resumed_version=resumed.agent_version if resumed else None,
        )
        spec = self.setup.spec
        self.voice = service_voice(spec.voice)
        self.endpoints = endpoints_for(
            home=self.info.region, policies=self.setup.policies, regions=settings.REGIONS
        )
        self.conversation = Conversation(system_prompt=spec.system_prompt)
        record = self.setup.consent
        self.announcement = announcement_text(
            consent_announcement_base(self.setup.policies), record.requirement
        )
        if self.gate is not None:
            self._consent = self.gate.consent_begin(
                requirement=record.requirement,
                announcement_version=record.announcement_version
                or announcement_version(self.announcement),
                earlier=record.evidence,
            )
        if resumed:
            self.turn_no = resumed.turns
            for turn in resumed.history:
                self.conversation.add(turn.role, turn.text)
            if resumed.escalated:
                self.state = "escalated"
            elif resumed.ended:
                self.state = "ended"
        self.turns = TurnDetector(TurnConfig(end_silence_ms=spec.end_of_speech_ms))
        self.vad = await asyncio.get_running_loop().run_in_executor(_EXECUTOR, VadStream)
        tenant, call = str(self.info.tenant_id), str(self.call_id)
        self._clients = {
            e.region: InferenceClient(
                e.inference_url, token=e.inference_token, tenant=tenant, call=call
            )
            for e in self.endpoints
        }
        self._llms = {
            e.region: LlmClient(
                e.llm_url,
                server=cast(LlmServer, e.llm_server),
                token=e.llm_token,
                tenant=tenant,
                call=call,
            )
            for e in self.endpoints
        }

    async def _start(self) -> None:
        """Greeting + consent announcement (first stream), and the fixed phrases the
        fallbacks need, cached before anything can fail. The LLM server reads the call's
        context, greeting included, meanwhile (``_warm_llm``)."""
        greets = self.state == "greeting" and not (self.resumed and self.resumed.greeted)
        # One utterance, and no barge-in while greeting: the announcement is heard whole
        # before the caller's answer counts, so the context will hold exactly this text.
        text = f"{self.setup.spec.greeting} {self.announcement}".strip()
        if self.state in ("greeting", "listening", "replying"):
            self._tasks.append(asyncio.create_task(self._warm_llm(text if greets else None)))
        try:
            if greets:
                prompt = await self._prompt(text, turn=0)
                greeting = await self._play(prompt, kind="greeting", turn=0)
                self._tasks.append(asyncio.create_task(self._announced(greeting)))
            if self.state == "greeting":
                self.state = "listening"
            if self.state == "ended":
                # A stream resumed after end_call, before the hang-up went through.
                self._ledger.put_nowait(_HangUpPending(reason=END_CALL_REASON))
            fixed = (APOLOGY, HANDOVER, GOODBYE, HOLD, *CONSENT_REPLIES.values())
            for phrase in dict.fromkeys((*fixed, *CONSENT_NOTES.values())):
                await self._prompt(phrase, turn=0)
            if self.state == "escalated":
                await self._hold_loop()
        except INFERENCE_ERRORS as exc:
            if self.state == "greeting":
                self.state = "listening"
            await self._fallback(None, "inference_unavailable", str(exc))

    async def _warm_llm(self, greeting: str | None) -> None:
        """Have the LLM server evaluate the context of the call's first reply (system
        prompt and the greeting) while the greeting plays: the server may have served
        another agent since, and on a CPU region re-reading them cost the first reply
        ~400 ms (60 tokens at ~7 ms). A failure here is only logged; the turn that needs
        the LLM meets it and falls back."""
        messages = self.conversation.messages()
        if greeting:
            messages.append({"role": "assistant", "content": greeting})
        await self._read_ahead(messages, turn=0, what="warm-up")

    async def _read_ahead(self, messages: list[Message], *, turn: int, what: str) -> None:
        """The LLM server evaluates ``messages`` ahead of a reply (``LlmClient.warm``); the
        first read-ahead of a turn is recorded as that turn's hop (the words reached the
        endpoint). A failure is only logged: the reply that needs the LLM meets it."""
        try:
            llm, endpoint = await self._llm()
            model = await llm.warm(messages)
        except INFERENCE_ERRORS as exc:
            log.info("call %s: LLM %s failed: %s", self.call_id, what, exc)
            return
        if self._read_ahead_turn != turn:
            self._read_ahead_turn = turn
            self._llm_hop(turn, endpoint, model)

    async def _prompt(self, text: str, *, turn: int) -> prompts.CachedPrompt:
        if text in self._prompts:
            return self._prompts[text]
        error: Exception | None = None
        for endpoint in self.endpoints:
            try:
                prompt = await prompts.cached_prompt(
                    client=self._clients[endpoint.region],
                    endpoint=endpoint.inference_host,
                    region=endpoint.region,
                    voice=self.voice,
                    text=text,
                    root=settings.REGIONS[self.info.region].storage_root,
                )
            except INFERENCE_ERRORS as exc:
                error = exc
                continue
            self._prompts[text] = prompt
            p = prompt.provenance
            self._append(
                ev.InferenceHop(
                    turn=turn,
                    service="tts",
                    region=p.region,
                    model=p.model,
                    model_version=p.model_version,
                    engine=p.engine,
                    endpoint=prompt.endpoint,
                    home_region=self.info.region,
                    cached=True,
                )
            )
            return prompt
        assert error is not None
        raise error

    # --- output ------------------------------------------------------------------------
    async def _emit(self, speech: Speech, pcm: np.ndarray, *, text: str, mark: bool) -> None:
        listener = speech.add_piece(text)
        self._speech = speech
        await self._out.put(
            AgentAudio(pcm=pcm, sample_rate=prompts.RATE, text=text, mark=mark, listener=listener)
        )

    async def _play(self, prompt: prompts.CachedPrompt, *, kind: str, turn: int) -> Speech:
        speech = Speech(kind=kind, turn=turn, texts=[prompt.text])
        await self._emit(speech, prompt.pcm, text=prompt.text, mark=True)
        speech.finish_generating()
        self._tasks.append(asyncio.create_task(self._record_when_played(speech)))
        return speech

    async def _record_when_played(self, speech: Speech) -> None:
        await speech.played.wait()
        self._record_speech(speech)

    def _record_speech(self, speech: Speech) -> None:
        if getattr(speech, "_recorded", False):
            return
        speech._recorded = True  # type: ignore[attr-defined]
        if speech.kind == "hold":
            return  # the hold loop's repeats are not conversation
        self.conversation.add("assistant", speech.heard_text)
        self._append(
            ev.TurnAgent(
                turn=speech.turn,
                text=speech.text,
                heard_text=speech.heard_text,
                redacted_text="",  # filled by the recorder (redaction runs off the loop)
                interrupted=speech.interrupted,
                kind=speech.kind,
            ),
            personal=True,
            # Fixed phrases are the tenant's words; a generated reply may repeat the
            # caller's, so it is kept raw only under consent.
            keep_raw=speech.kind != "reply" or self._raw_allowed(),
        )
        if speech.underruns:
            observe_underruns(region=self.info.region, kind=speech.kind, gaps=speech.underruns)
            self._append(
                ev.TurnUnderrun(
                    turn=speech.turn,
                    kind=speech.kind,
                    gaps=len(speech.underruns),
                    silence_ms=round(sum(speech.underruns) * 1000),
                    longest_ms=round(max(speech.underruns) * 1000),
                )
            )

    def _barge_in(self) -> None:
        """Stop the agent: audio not yet handed to the player is dropped, the player clears
        (BargeIn), and the utterance is recorded with what was heard once the clear is
        done (marks flushed by it never count)."""
        speech = self._speech
        if speech is None or not speech.audible:
            return
        if speech.kind in UNINTERRUPTIBLE:
            return  # heard whole; the caller's turn is answered after it
        self._speech = None
        kept = []
        while not self._out.empty():
            item = self._out.get_nowait()
            if not isinstance(item, AgentAudio):
                kept.append(item)  # an earlier ack or the end stays, in order
        for item in kept:
            self._out.put_nowait(item)
        ack = _Ack()
        self._out.put_nowait(ack)
        speech.interrupted = True

        async def record() -> None:
            await ack.done.wait()
            self._record_speech(speech)

        self._tasks.append(asyncio.create_task(record()))

    # --- listening -----------------------------------------------------------------------
    def _vad_step(self, pcm: np.ndarray) -> list[VadFrame]:
        return self.vad.feed(pcm.astype(np.float32) / 32768.0)

    async def _listen(self, inbound: AsyncIterator[PipelineInput]) -> None:
        loop = asyncio.get_running_loop()
        pending: list[np.ndarray] = []
        samples = 0
        async for item in inbound:
            if isinstance(item, CallerDtmf):
                self._on_dtmf(item.digit)
                continue
            if not isinstance(item, CallerAudio):
                continue
            pending.append(item.pcm)
            samples += len(item.pcm)
            if samples < 512:
                continue
            audio = np.concatenate(pending)
            pending, samples = [], 0
            frames = await loop.run_in_executor(_EXECUTOR, self._vad_step, audio)
            if frames:
                last = frames[-1]
                self._clock = (last.start_s + 512 / PIPELINE_RATE, time.monotonic())
            for frame in frames:
                await self._on_frame(frame)
        await self._out.put(None)

    def _clock_at(self, stream_s: float) -> float:
        at_s, at = self._clock
        return at - (at_s - stream_s)

    async def _on_frame(self, frame: VadFrame) -> None:
        self._ring.append(frame)
        events = self.turns.feed([frame])
        turn = self._turn
        if turn is not None and turn.ended_s is None:
            turn.asr.send(frame.samples)
            self._watch_level(turn, frame)
        for event in events:
            if isinstance(event, TurnStarted):
                await self._on_turn_started(event)
            elif isinstance(event, TurnEnded):
                await self._on_turn_ended(event)
        turn = self._turn
        if turn is None or turn.ended_s is not None or self.state != "listening":
            return
        silence = self.turns.silence_ms
        if silence >= settings.CALLSEAL_AGENT_SPECULATE_MS and turn.reply is None:
            turn.speculative = True
            turn.reply = asyncio.create_task(self._reply(turn))
        elif silence == 0 and turn.reply is not None and not turn.committed.is_set():
            self._void_speculation(turn)

    def _void_speculation(self, turn: _Turn) -> None:
        """The caller went on speaking: the speculative reply answers a half sentence. What
        it learnt goes with it: its words (the turn's end records the caller's words at
        once if it has some, and those would be the half sentence), its stage times (a
        later reply stamps TTS's first audio only if none is there) and its speech."""
        assert turn.reply is not None
        self._drop(turn.reply)
        turn.reply, turn.speculative = None, False
        turn.text, turn.speech = None, None
        turn.t.clear()

    def _watch_level(self, turn: _Turn, frame: VadFrame) -> None:
        """The caller's level drops before Silero's probability does (~120 ms on phone
        audio): after ``CALLSEAL_AGENT_PEEK_MS`` of faint audio ASR is asked what a final
        would say now, keeping the audio. Louder audio afterwards voids the answer (the
        next flush transcribes the whole segment); otherwise the reply takes it instead of
        waiting for a final of its own."""
        faint = 10 ** (settings.CALLSEAL_AGENT_FAINT_DBFS / 20)
        if float(np.sqrt(np.mean(np.square(frame.samples)))) >= faint:
            turn.faint_frames = 0
            turn.peek = None
            return
        turn.faint_frames += 1
        if (
            settings.CALLSEAL_AGENT_PEEK_MS
            and turn.faint_frames * 32 >= settings.CALLSEAL_AGENT_PEEK_MS
            and turn.peek is None
            and turn.reply is None
            and self.state == "listening"
        ):
            number = turn.number
            peek = turn.peek = turn.asr.peek()

            def read_ahead(done: asyncio.Future[str | None]) -> None:
                # The whole question, a little before the reply asks: the LLM server
                # reads it now (the partials' read-ahead, one more time).
                if not done.cancelled() and done.result() and turn.peek is done:
                    self._on_partial(number, done.result() or "", peek=True)

            peek.add_done_callback(read_ahead)

    async def _on_turn_started(self, event: TurnStarted) -> None:
        if self.state not in ("listening", "replying"):
            return  # escalated or ended: the caller waits for a human or hangs up
        previous = self._turn
        if previous is not None:
            self._abandon(previous)
        self._barge_in()
        self.turn_no += 1
        number = self.turn_no
        on_partial = None
        if settings.CALLSEAL_AGENT_ASR_PARTIALS:

            def on_partial(text: str) -> None:
                self._on_partial(number, text)

        asr = AsrTurn(self._connect_asr, on_partial=on_partial)
        turn = _Turn(number=number, started_s=event.start_s, asr=asr)
        turn.raw_ok = self._raw_allowed()
        self._turn = turn
        self.state = "listening"
        for frame in self._ring:  # pre-roll and the speech that started the turn
            if frame.start_s >= event.start_s - self.turns.config.pre_roll_ms / 1000:
                turn.asr.send(frame.samples)

    def _on_partial(self, number: int, text: str, *, peek: bool = False) -> None:
        """A partial transcript while the caller speaks: the LLM server reads the call's
        context and the words so far (``LlmClient.warm``), so that the reply's request
        finds them evaluated and pays only for what the caller said after. One at a time,
        none once the turn's reply has begun (it would queue ahead of it), and none from a
        partial while a peek is out (its words are older than the peek's, and reading them
        takes the cores the peek's pass needs)."""
        turn = self._turn
        if turn is None or turn.number != number or turn.reply is not None:
            return
        if turn.peek is not None and not peek:
            return
        if self.state != "listening" or (self._prefill is not None and not self._prefill.done()):
            return
        if self._prefill is not None:  # finished: only the latest stays owned (a long
            self._tasks.remove(self._prefill)  # call has a partial every 700 ms of speech)
        self._prefill = asyncio.create_task(self._prefill_llm(number, text))
        self._tasks.append(self._prefill)

    async def _prefill_llm(self, number: int, text: str) -> None:
        messages = self.conversation.messages(then=Turn("user", text))
        await self._read_ahead(messages, turn=number, what="prefill")

    def _drop(self, task: asyncio.Task[Any]) -> None:
        """Cancel without waiting (the listening path must not stall on a socket's close
        handshake); the task stays owned and is awaited when the call ends."""
        task.cancel()
        self._tasks.append(task)

    def _abandon(self, turn: _Turn) -> None:
        for task in (turn.supervisor, turn.reply):
            if task is not None:
                self._drop(task)
        self._drop(turn.asr.abort())

    async def _on_turn_ended(self, event: TurnEnded) -> None:
        turn = self._turn
        if turn is None or self.state != "listening":
            return
        turn.ended_s = event.end_s
        turn.end_clock = self._clock_at(event.end_s)
        if turn.reply is None:
            turn.reply = asyncio.create_task(self._reply(turn))
        turn.committed.set()
        self._record_caller(turn)
        self.state = "replying"
        turn.supervisor = asyncio.create_task(self._supervise(turn))
        self._tasks.append(turn.supervisor)

    # --- replying ----------------------------------------------------------------------
    def _ms(self, turn: _Turn, key: str) -> int | None:
        if key not in turn.t or turn.end_clock is None:
            return None
        return max(0, round((turn.t[key] - turn.end_clock) * 1000))

    async def _commit_point(self, turn: _Turn) -> None:
        """Wait until the turn is confirmed (a speculative reply holds here), then record
        the caller's words once."""
        await turn.committed.wait()
        self._record_caller(turn)

    def _record_caller(self, turn: _Turn) -> None:
        """The caller's turn, once it is confirmed and its words are known (before the
        agent's reply is heard: a slow reply must not lose the caller's words)."""
        if turn.recorded or turn.text is None or not turn.committed.is_set():
            return
        turn.recorded = True
        self.conversation.add("user", turn.text or "")
        self._append(
            ev.TurnCaller(
                turn=turn.number,
                text=turn.text or "",
                redacted_text="",
                started_ms=round(turn.started_s * 1000),
                ended_ms=round((turn.ended_s or turn.started_s) * 1000),
                stream_index=self.info.stream_index,
            ),
            personal=True,
            keep_raw=turn.raw_ok and self._raw_allowed(),
        )
        asr = turn.asr
        if asr.provenance is not None:
            self._hop(turn.number, asr.provenance, asr.endpoint)

    def _hop(self, turn: int, p: Any, endpoint: str) -> None:
        self._append(
            ev.InferenceHop(
                turn=turn,
                service=p.service,
                region=p.region,
                model=p.model,
                model_version=p.model_version,
                engine=p.engine,
                endpoint=endpoint,
                home_region=self.info.region,
                cached=False,
            )
        )

    async def _caller_words(self, turn: _Turn) -> str:
        """The turn's transcript: the peek taken when the caller's level dropped, if no
        louder audio came after it, else a final of everything sent."""
        peek = turn.peek
        if peek is not None:
            text = await asyncio.shield(peek)
            if text is not None and turn.peek is peek:
                return text
        return await turn.asr.flush()

    async def _reply(self, turn: _Turn) -> None:
        try:
            text = await self._caller_words(turn)
            turn.t["asr_final"] = time.monotonic()
            turn.text = text
            self._record_caller(turn)
            if not text:
                await self._commit_point(turn)
                turn.outcome.set()  # nothing intelligible: stay quiet, keep listening
                return
            if await self._consent_reply(turn, text):
                return
            await self._answer(turn, text)
        except INFERENCE_ERRORS as exc:
            turn.error = ("inference_error", f"{type(exc).__name__}: {exc}"[:300])
            turn.outcome.set()
        except Exception as exc:
            log.exception("agent reply failed")
            turn.error = ("internal_error", type(exc).__name__)
            turn.outcome.set()
        finally:
            if turn.committed.is_set():
                await turn.asr.close()

    async def _answer(self, turn: _Turn, text: str) -> None:
        spec = self.setup.spec
        if settings.CALLSEAL_AGENT_TOOL_ROUTING == "llm":
            tool, routed_by = await self._route_by_llm(turn), "llm"
        else:
            tool = route_by_keywords(text, tools=spec.tools, knowledge=spec.knowledge).tool
            routed_by = "keywords"
        if tool is None:
            await self._llm_reply(turn)
            return
        if routed_by == "llm":
            arguments = await self._tool_arguments(turn, TOOLS[tool])
        else:
            # Keyword routing takes the arguments from the caller's words: an LLM round
            # trip here would cost the caller a second of silence on a CPU region.
            arguments = _keyword_arguments(tool, text)
        await self._commit_point(turn)
        if tool == "lookup":
            question = str(arguments.get("question") or text)
            entry, score = best_entry(question, spec.knowledge)
            if entry is None or score == 0:
                entry, score = best_entry(text, spec.knowledge)
            answer = entry.answer if entry else "I'm sorry, I don't have that information."
            self._tool_event(
                turn,
                tool,
                arguments,
                f"answered: {entry.question}" if entry else "no entry",
                routed_by,
            )
            await self._speak_texts(turn, [answer], kind="lookup")
        elif tool == "collect_payment":
            self._tool_event(turn, tool, arguments, "collecting", routed_by)
            await self._collect_payment(turn)
        elif tool == "escalate_to_human":
            reason = str(arguments.get("reason") or "caller asked for a human")
            self._tool_event(turn, tool, arguments, "queued", routed_by)
            await self._play(
                await self._prompt(HANDOVER, turn=turn.number), kind="escalation", turn=turn.number
            )
            turn.outcome.set()
            await self._escalate(reason)
        else:
            self._tool_event(turn, tool, arguments, "ending", routed_by)
            prompt = await self._prompt(GOODBYE, turn=turn.number)
            goodbye = await self._play(prompt, kind="goodbye", turn=turn.number)
            turn.outcome.set()
            self.state = "ended"
            self._tasks.append(asyncio.create_task(self._hang_up_when_heard(goodbye, prompt)))

    async def _hang_up_when_heard(self, goodbye: Speech, prompt: prompts.CachedPrompt) -> None:
        """Hang up once the caller heard the goodbye (its mark came back), or a grace
        period after its audio should have finished: Twilio's marks can be lost. The
        first frame is our own player's, so it is waited for without a bound."""
        await goodbye.started.wait()
        playing_s = len(prompt.pcm) / prompts.RATE
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(goodbye.played.wait(), playing_s + HANG_UP_MARK_GRACE_S)
        self._record_speech(goodbye)  # what was heard of it, recorded before the hang-up
        # Through the recorder: after the events before it, and awaited when the call ends.
        self._ledger.put_nowait(_HangUpPending(reason=END_CALL_REASON))

    def _tool_event(
        self, turn: _Turn, name: str, arguments: dict[str, Any], result: str, routed_by: str
    ) -> None:
        self._append(
            ev.ToolCalled(
                turn=turn.number, name=name, arguments=arguments, result=result, routed_by=routed_by
            )
        )

    async def _tool_arguments(self, turn: _Turn, tool: Tool) -> dict[str, Any]:
        if not tool.parameters.get("properties"):
            return {}
        llm, endpoint = await self._llm()
        call = await llm.tool_call(
            self._messages(turn),
            tools=[tool],
            choice=tool.name,
            max_tokens=64,
        )
        self._llm_hop(turn.number, endpoint, call.model)
        return call.arguments

    async def _route_by_llm(self, turn: _Turn) -> str | None:
        from agents.voice.tools import RESPOND

        llm, endpoint = await self._llm()
        tools = [TOOLS[name] for name in self.setup.spec.tools] + [RESPOND]
        call = await llm.tool_call(
            self._messages(turn),
            tools=tools,
            max_tokens=64,
        )
        self._llm_hop(turn.number, endpoint, call.model)
        return None if call.name == "respond" else call.name

    def _llm_hop(self, turn: int, endpoint: Endpoint, model: str) -> None:
        self._append(
            ev.InferenceHop(
                turn=turn,
                service="llm",
                region=endpoint.region,
                model=model,
                model_version=model,
                engine="openai-compatible",
                endpoint=endpoint.llm_host,
                home_region=self.info.region,
                cached=False,
            )
        )

    def _messages(self, turn: _Turn) -> list[Message]:
        """The LLM's messages for ``turn``'s reply: the caller's words are in the context
        once the turn is recorded (a reply that began before the turn ended adds them)."""
        if turn.recorded:
            return self.conversation.messages()
        return self.conversation.messages(then=Turn("user", turn.text or ""))

    async def _llm(self) -> tuple[LlmClient, Endpoint]:
        """The first endpoint whose LLM server answers (home region, then the policy's)."""
        error: Exception | None = None
        for endpoint in self.endpoints:
            client = self._llms[endpoint.region]
            try:
                await client.model_name()
            except INFERENCE_ERRORS as exc:
                error = exc
                continue
            return client, endpoint
        assert error is not None
        raise error

    async def _llm_reply(self, turn: _Turn) -> None:
        """The LLM's reply, streamed into TTS chunk by chunk. Where the server can continue
        a reply (``LlmClient.continues``), its stream is closed once the first chunk is
        out and resumed when TTS has synthesised that chunk: on a CPU region both share
        the cores, and the chunk the caller hears first is synthesised sooner without
        the LLM writing the next one beside it (docs/adr/0010)."""
        llm, endpoint = await self._llm()
        messages = self._messages(turn)
        model = await llm.model_name()
        budget = settings.CALLSEAL_AGENT_MAX_REPLY_TOKENS
        pause = bool(settings.CALLSEAL_AGENT_PAUSE_LLM_AT_FIRST_CHUNK and llm.continues)
        synthesised = asyncio.Event()  # TTS finished the reply's first chunk

        async def sentences() -> AsyncGenerator[str, None]:
            chunker = SentenceChunker(first_clause_words=settings.CALLSEAL_AGENT_FIRST_CLAUSE_WORDS)
            written, tokens, paused = "", 0, False
            chunks: list[str] = []
            deltas = llm.stream_chat(messages, max_tokens=budget)
            try:
                async for delta in deltas:
                    if not tokens:
                        turn.t["llm_first_token"] = time.monotonic()
                    written, tokens = written + delta, tokens + 1
                    chunks = chunker.feed(delta)
                    if chunks and pause:
                        paused = True
                        break
                    for chunk in chunks:
                        yield chunk
            finally:
                await deltas.aclose()  # closes the connection: the server stops writing
            if not paused:
                for chunk in chunker.flush():
                    yield chunk
                return
            for chunk in chunks:
                yield chunk
            await synthesised.wait()
            self._llm_hop(turn.number, endpoint, model)  # the continuation is a request too
            rest = llm.continue_chat(messages, written, max_tokens=max(1, budget - tokens))
            try:
                async for delta in rest:
                    for chunk in chunker.feed(delta):
                        yield chunk
            finally:
                await rest.aclose()
            for chunk in chunker.flush():
                yield chunk

        self._llm_hop(turn.number, endpoint, model)
        await self._speak(turn, sentences(), kind="reply", synthesised=synthesised)

    async def _speak_texts(self, turn: _Turn, texts: list[str], *, kind: str) -> None:
        async def gen() -> AsyncGenerator[str, None]:
            # Sentence by sentence, so that what the caller heard is known per sentence.
            chunker = SentenceChunker(first_clause_words=settings.CALLSEAL_AGENT_FIRST_CLAUSE_WORDS)
            for text in texts:
                for sentence in chunker.feed(text + " "):
                    yield sentence
            for sentence in chunker.flush():
                yield sentence

        await self._speak(turn, gen(), kind=kind)

    async def _speak(
        self,
        turn: _Turn,
        sentences: AsyncGenerator[str, None],
        *,
        kind: str,
        synthesised: asyncio.Event | None = None,
    ) -> None:
        """Sentences → TTS → the player. Audio is held (not emitted) until the turn is
        committed; each sentence's last piece carries its text and a mark (a piece is
        emitted once the next one, or the sentence's end, has arrived). ``synthesised``
        is set once the first sentence's audio (or its end) has come back from TTS."""
        speech = Speech(kind=kind, turn=turn.number, on_first_frame=self._first_frame_cb(turn))
        turn.speech = speech
        async with self._connect_tts() as (tts, endpoint):
            order: asyncio.Queue[str | BaseException | None] = asyncio.Queue()

            async def produce() -> None:
                count = 0
                try:
                    async for sentence in sentences:
                        count += 1
                        speech.texts.append(sentence)
                        await tts.speak(
                            SentenceChunker.spoken(sentence), speak_id=f"t{turn.number}s{count}"
                        )
                        order.put_nowait(sentence)
                except Exception as exc:
                    order.put_nowait(exc)
                    return
                finally:
                    # Cancelled (barge-in, fallback): the LLM's stream closes now, not when
                    # the generator is collected, so the server stops writing at once.
                    await sentences.aclose()
                order.put_nowait(None)

            producer = asyncio.create_task(produce())
            try:
                while True:
                    sentence = await order.get()
                    if sentence is None:
                        break
                    if isinstance(sentence, BaseException):
                        raise sentence
                    held: np.ndarray | None = None
                    while True:
                        item = await tts.receive()
                        if synthesised is not None:
                            # Piper sends a chunk's audio once it is synthesised; the audio
                            # is read before the turn's commit point, which may wait.
                            synthesised.set()
                        if isinstance(item, TtsDone):
                            if held is not None:
                                await self._commit_point(turn)
                                await self._emit(speech, held, text=sentence, mark=True)
                            break
                        pcm = np.frombuffer(item, dtype="<i2").astype(np.int16)
                        turn.t.setdefault("tts_first_audio", time.monotonic())
                        if held is not None:
                            await self._commit_point(turn)
                            await self._emit(speech, held, text="", mark=False)
                        held = pcm
                self._hop(turn.number, tts.provenance, endpoint)
            finally:
                await _cancel(producer)
        speech.finish_generating()
        if not speech.pieces:
            await self._commit_point(turn)
            turn.outcome.set()
        self._tasks.append(asyncio.create_task(self._record_when_played(speech)))

    def _first_frame_cb(self, turn: _Turn) -> Callable[[Speech, float], None]:
        def on_first_frame(speech: Speech, at: float) -> None:
            turn.t["first_frame"] = at
            turn.outcome.set()
            steps = {
                "asr_final": self._ms(turn, "asr_final"),
                "llm_first_token": self._ms(turn, "llm_first_token"),
                "tts_first_audio": self._ms(turn, "tts_first_audio"),
                "first_frame": self._ms(turn, "first_frame"),
            }
            observe_turn(region=self.info.region, steps=steps)
            self._append(
                ev.TurnLatency(
                    turn=turn.number,
                    asr_final_ms=steps["asr_final"],
                    llm_first_token_ms=steps["llm_first_token"],
                    tts_first_audio_ms=steps["tts_first_audio"],
                    first_frame_ms=steps["first_frame"],
                    voice_to_voice_ms=steps["first_frame"],
                    speculative=turn.speculative,
                )
            )

        return on_first_frame

    async def _supervise(self, turn: _Turn) -> None:
        """The fallback watchdog of one committed turn."""
        assert turn.reply is not None
        assert turn.end_clock is not None
        deadline = turn.end_clock + settings.CALLSEAL_AGENT_NO_AUDIO_S
        try:
            await asyncio.wait_for(turn.outcome.wait(), max(0.05, deadline - time.monotonic()))
        except TimeoutError:
            await _cancel(turn.reply)
            reached = ", ".join(
                f"{step} {self._ms(turn, step)} ms"
                for step in ("asr_final", "llm_first_token", "tts_first_audio")
                if step in turn.t
            )
            await self._fallback(
                turn,
                "no_audio",
                f"no agent audio {settings.CALLSEAL_AGENT_NO_AUDIO_S} s after the caller "
                f"stopped (reached: {reached or 'nothing'})",
            )
            return
        if turn.error is None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(turn.reply)
        if turn.error is not None:
            await self._fallback(turn, *turn.error)
        elif self.state == "replying":
            self.state = "listening"
        elif self.state == "escalated":
            await self._hold_loop()

    async def _fallback(self, turn: _Turn | None, reason: str, detail: str) -> None:
        if self.state in ("escalated", "ended"):
            return
        FALLBACKS.labels(region=self.info.region, reason=reason).inc()
        number = turn.number if turn else self.turn_no
        if turn is not None and not turn.recorded:
            if turn.text is None:
                turn.text = ""  # the words were lost with the service
            turn.committed.set()
            self._record_caller(turn)
        self._append(ev.AgentFallback(turn=number, reason=reason, detail=detail))
        self.state = "escalated"
        apology = self._prompts.get(APOLOGY)
        if apology is not None:
            await self._play(apology, kind="apology", turn=number)
        await self._escalate(f"fallback: {reason}")
        await self._hold_loop()

    async def _escalate(self, reason: str) -> None:
        self.state = "escalated"
        self._escalation_reason = reason
        self._append(_EscalationPending(reason=reason))

    async def _hold_loop(self) -> None:
        """The caller waits for a human: never more than ~2 s of silence."""
        hold = self._prompts.get(HOLD)
        speech = self._speech
        while hold is not None:
            if speech is not None:
                await speech.played.wait()
            await asyncio.sleep(1.5)
            speech = await self._play(hold, kind="hold", turn=self.turn_no)

    # --- consent (compliance/consent.py) and the PCI pause (compliance/pci.py) -----------
    def _raw_allowed(self) -> bool:
        return self._consent is not None and self._consent.raw_transcript_allowed

    def _consent_recorded(self, evidence: list[Evidence]) -> None:
        """Append the evidence, then let the gate start or stop the recording."""
        assert self.gate is not None
        for item in evidence:
            self._append(self.gate.evidence_event(item))
        self.gate.sync()

    async def _announced(self, greeting: Speech) -> None:
        """The announcement's last word was heard (its mark came back): the evidence."""
        await greeting.played.wait()
        if self._consent is None or self.gate is None:
            return
        self._consent_recorded(
            self._consent.announcement_played(
                at=timezone.now(), audio_offset_ms=self.gate.offset_ms
            )
        )

    def _on_dtmf(self, digit: str) -> None:
        payment = self._payment
        if payment is not None and payment.active:
            payment.dtmf(digit)  # card data: kept in memory only, never logged
            self._payment_keys.set()
            return
        if self._consent is None or self.gate is None:
            return
        try:
            evidence = self._consent.dtmf(
                digit=digit, at=timezone.now(), audio_offset_ms=self.gate.offset_ms
            )
        except ConsentError:
            return
        if evidence:
            self._consent_recorded(evidence)
            self._tasks.append(asyncio.create_task(self._confirm_consent(evidence[-1])))

    async def _confirm_consent(
        self, evidence: Evidence, replies: Mapping[type[Evidence], str] = CONSENT_REPLIES
    ) -> None:
        phrase = replies.get(type(evidence))
        if phrase is None:
            return
        try:
            prompt = await self._prompt(phrase, turn=self.turn_no)
        except INFERENCE_ERRORS:
            return  # the decision is recorded; only the spoken acknowledgement is lost
        await self._play(prompt, kind="consent", turn=self.turn_no)

    async def _consent_reply(self, turn: _Turn, text: str) -> bool:
        """A reply to the announcement, or a request to stop recording: recorded as
        evidence once the turn is confirmed, and acknowledged. False: not about consent,
        or consent and a request (``carries_request``), which the agent goes on to answer
        (after a brief acknowledgement when recording stopped or will not start: the
        caller must hear that before anything else)."""
        consent = self._consent
        if consent is None or self.gate is None or parse_consent_intent(text) is None:
            return False
        await self._commit_point(turn)
        offset = round((turn.ended_s if turn.ended_s is not None else turn.started_s) * 1000)
        evidence = consent.speech(text=text, at=timezone.now(), audio_offset_ms=offset)
        if not evidence:
            return False
        self._consent_recorded(evidence)
        decided = evidence[-1]
        if carries_request(text):
            await self._confirm_consent(decided, CONSENT_NOTES)
            return False
        await self._confirm_consent(decided)
        turn.outcome.set()
        return True

    async def _collect_payment(self, turn: _Turn) -> None:
        """The collect_payment step: caller audio is silenced (for ASR and the recording)
        from before the first prompt until a guard after the last key; keys go only to
        the capture's memory and on to the processor; the events carry no digits."""
        gate = self.gate
        if gate is None:  # no transport gate: keys could not be kept out of the recording
            prompt = await self._prompt(PAYMENT_RESULTS["unavailable"], turn=turn.number)
            await self._play(prompt, kind="payment", turn=turn.number)
            turn.outcome.set()
            return
        step_id = f"pay-{self.info.stream_index}-{turn.number}"
        capture = PaymentCapture(step_id=step_id, sample_rate=gate.sample_rate)
        paused = capture.start(at=timezone.now(), audio_offset_ms=gate.offset_ms)
        gate.payment_begin(capture)
        self._payment, self.state = capture, "payment"
        self._append(
            PaymentPausedEvent(
                step_id=step_id,
                at=paused.at.isoformat(),
                audio_offset_ms=paused.audio_offset_ms,
                stream_index=self.info.stream_index,
            )
        )
        outcome, result = "cancelled", ""  # unless the keys come in (or time out)
        try:
            outcome = await self._payment_keys_entered(turn, capture)
            _, values = capture.finish(at=timezone.now(), audio_offset_ms=gate.offset_ms)
            try:
                if outcome == "completed":
                    result = str(await asyncio.to_thread(_authorise, values, step_id))
            finally:
                for value in values.values():
                    value.wipe()
        finally:
            if capture.active:  # cancelled: the call ended during the step
                capture.cancel()
            self._payment = None
            if self.state == "payment":
                self.state = "replying"
            self._append(
                PaymentResumedEvent(
                    step_id=step_id,
                    at=timezone.now().isoformat(),
                    audio_offset_ms=gate.offset_ms,
                    outcome=outcome,
                    result=result,
                    stream_index=self.info.stream_index,
                )
            )
        key = result.split(":")[0] if outcome == "completed" else outcome
        prompt = await self._prompt(PAYMENT_RESULTS[key], turn=turn.number)
        await self._play(prompt, kind="payment", turn=turn.number)

    async def _payment_keys_entered(self, turn: _Turn, capture: PaymentCapture) -> str:
        """Prompt field by field until every field is entered ("completed") or the caller
        enters nothing for CALLSEAL_PAYMENT_TIMEOUT_S ("timed_out")."""
        loop = asyncio.get_running_loop()
        prompted = -1
        deadline = 0.0
        while not capture.complete:
            if capture.field_index != prompted:
                prompted = capture.field_index
                prompt = await self._prompt(PAYMENT_FIELDS[prompted], turn=turn.number)
                await self._play(prompt, kind="payment", turn=turn.number)
                turn.outcome.set()
                deadline = loop.time() + settings.CALLSEAL_PAYMENT_TIMEOUT_S
            self._payment_keys.clear()
            try:
                await asyncio.wait_for(self._payment_keys.wait(), deadline - loop.time())
            except TimeoutError:
                return "timed_out"
        return "completed"

    # --- inference connections ---------------------------------------------------------
    @asynccontextmanager
    async def _connect_asr(self) -> AsyncIterator[tuple[AsrStream, str]]:
        error: Exception | None = None
        for endpoint in self.endpoints:
            stream = self._clients[endpoint.region].asr(
                model=self.setup.spec.asr_model,
                language=self.setup.spec.language,
                partials=settings.CALLSEAL_AGENT_ASR_PARTIALS,
            )
            try:
                await stream.__aenter__()
            except INFERENCE_ERRORS as exc:
                error = exc
                continue
            try:
                yield stream, endpoint.inference_host
            finally:
                await stream.__aexit__(None, None, None)
            return
        assert error is not None
        raise error

    @asynccontextmanager
    async def _connect_tts(self) -> AsyncIterator[tuple[Any, str]]:
        error: Exception | None = None
        for endpoint in self.endpoints:
            stream = self._clients[endpoint.region].tts(voice=self.voice, sample_rate=prompts.RATE)
            try:
                await stream.__aenter__()
            except INFERENCE_ERRORS as exc:
                error = exc
                continue
            try:
                yield stream, endpoint.inference_host
            finally:
                await stream.__aexit__(None, None, None)
            return
        assert error is not None
        raise error

    # --- the ledger ----------------------------------------------------------------------
    def _append(self, event: object, *, personal: bool = False, keep_raw: bool = True) -> None:
        self._ledger.put_nowait(([event], personal, keep_raw))

    async def _record_loop(self) -> None:
        """Append the agent's events in order, one transaction at a time, off the audio
        path; redaction (Presidio) runs here, in a thread."""
        while True:
            item = await self._ledger.get()
            if item is None:
                return
            if isinstance(item, _HangUpPending):
                await self._hang_up(item.reason)
                continue
            events, personal, keep_raw = item
            try:
                prepared = await asyncio.to_thread(self._prepare, events, keep_raw)
                await database_sync_to_async(records.agent_events_append)(
                    tenant=self.setup.tenant,
                    call_id=self.call_id,
                    events=prepared,
                    subject=self.setup.transcript_key if personal else None,
                )
            except Exception:
                log.exception("agent event not recorded")

    async def _hang_up(self, reason: str) -> None:
        """Ask Twilio to end the call (it then stops the stream and sends the status
        callback); when it refuses or cannot be reached, the refusal is recorded and the
        consumer closes the stream (``HangUp``), so the caller is not left in silence."""
        assert self.info.agent_id is not None
        # Not thread-sensitive: Twilio may take CALLSEAL_TWILIO_TIMEOUT_S to answer, and
        # the thread-sensitive executor serialises the ORM calls of every call.
        end = database_sync_to_async(supervision.call_agent_end, thread_sensitive=False)
        try:
            accepted = await end(
                tenant=self.setup.tenant,
                call_id=self.call_id,
                agent_id=self.info.agent_id,
                reason=reason,
            )
        except Exception:
            log.exception("end_call: the hang-up was not recorded")
            accepted = False
        if not accepted:
            await self._out.put(HangUp())

    def _prepare(self, events: list[object], keep_raw: bool = True) -> list[object]:
        from dataclasses import replace

        from compliance.redaction import redact_text

        out: list[object] = []
        for event in events:
            if isinstance(event, ev.TurnAgent) and event.kind != "reply":
                # A fixed phrase or knowledge-base answer: the tenant's words, no caller's
                # (Presidio would only mistake "Acme" for a person and "today" for a date).
                event = replace(event, redacted_text=event.text)
            elif isinstance(event, (ev.TurnCaller, ev.TurnAgent)):
                event = replace(event, redacted_text=redact_text(event.text).redacted_text)
                if not keep_raw:  # no consent: the raw words are never stored
                    event = replace(event, text="")
                    if isinstance(event, ev.TurnAgent):
                        event = replace(event, heard_text="")
            elif isinstance(event, _EscalationPending):
                event = self._escalation_event(event.reason)
            elif isinstance(event, ev.ToolCalled):
                event = replace(
                    event,
                    arguments={
                        k: redact_text(v).redacted_text if isinstance(v, str) else v
                        for k, v in event.arguments.items()
                    },
                )
            out.append(event)
        return out

    def _escalation_event(self, reason: str) -> ev.CallEscalated:
        from compliance.redaction import redact_text

        transcript = [
            {
                "role": "caller" if t.role == "user" else "agent",
                "text": redact_text(t.text).redacted_text,
            }
            for t in self.conversation.turns
        ]
        last = next((t["text"] for t in reversed(transcript) if t["role"] == "caller"), "")
        summary = (
            f"{redact_text(reason).redacted_text}. Last words from the caller: {last or '(none)'}"
        )
        if self.conversation.summary:
            summary += f" ({self.conversation.compressed_turns} earlier turns summarised)"
        queue = str(self.setup.policies.get("escalation_queue") or "general")[:80]
        return ev.CallEscalated(
            call_id=str(self.call_id),
            reason=reason[:200],
            queue=queue,
            summary=summary[:1000],
            transcript=transcript,
        )

    # --- the end -----------------------------------------------------------------------
    async def _shutdown(self, recorder: asyncio.Task[None]) -> None:
        turn = self._turn
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if turn is not None:
            if turn.reply is not None:
                await _cancel(turn.reply)
            await turn.asr.close()
        if self._speech is not None and hasattr(self, "conversation"):
            self._record_speech(self._speech)  # what was heard before the caller hung up
        self._ledger.put_nowait(None)
        try:
            await asyncio.wait_for(asyncio.shield(recorder), 10)
        except (TimeoutError, asyncio.CancelledError):
            recorder.cancel()
        for client in getattr(self, "_clients", {}).values():
            await client.close()
        for llm in getattr(self, "_llms", {}).values():
            await llm.close()


def _authorise(values: dict[str, SecretDigits], reference: str) -> str:
    """Hand the captured fields to the configured processor (in a thread)."""
    from django.utils.module_loading import import_string

    try:
        processor: PaymentProcessor = import_string(settings.CALLSEAL_PAYMENT_PROCESSOR)()
        return str(processor.authorise(values, reference=reference))
    except Exception as exc:
        # The message may echo what the processor was given: only the type is logged.
        log.error("payment processor failed: %s", type(exc).__name__)
        return "error:processor"


def _keyword_arguments(tool: str, text: str) -> dict[str, Any]:
    if tool == "lookup":
        return {"question": text[:300]}
    if tool == "escalate_to_human":
        return {"reason": f"caller asked for a person: {text}"[:200]}
    return {}


@dataclass(frozen=True, slots=True)
class _HangUpPending:
    """end_call's hang-up, run by the recorder in its turn (calls/supervision.py)."""

    reason: str


@dataclass(frozen=True, slots=True)
class _EscalationPending:
    """Replaced by ``call.escalated`` in the recorder (the summary needs redaction)."""

    reason: str


async def _cancel(task: asyncio.Task[Any] | Awaitable[Any]) -> None:
    if isinstance(task, asyncio.Task):
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task

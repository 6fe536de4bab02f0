"""The AI voice agent as a ``CallPipeline`` (calls/pipeline.py): caller audio in, agent
audio and barge-ins out, every step an event in the call's ledger stream.

This module is the coordinator: the call's state (``CallState``, its transitions in
``TRANSITIONS``), the supervision of each turn and the fallback. The work is done by
units that each know only the ones after them (docs/adr/0010):

    listening (VAD, turns, ASR, speculation, partials)
      → the coordinator (state, supervision, fallback)
        → replying (words, consent, tools, LLM) → speaking (TTS, commit point, barge-in)
        → consent_step, payment_step
          → ledger_writer (every event, in order, off the audio path)

``resume`` rebuilds the state from the ledger when a stream is redirected to another
worker. ``end_call`` hangs up through Twilio's REST API once the goodbye was heard
(calls/supervision.py); when Twilio refuses, the pipeline yields ``HangUp`` and the
consumer closes the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Coroutine, Sequence
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings

from agents.metrics import FALLBACKS
from agents.voice import prompts
from agents.voice.consent_step import CONSENT_NOTES, CONSENT_REPLIES
from agents.voice.context import ResumedState, resumed_state
from agents.voice.endpoints import INFERENCE_ERRORS
from agents.voice.listening import CallerTurn
from agents.voice.owned import OwnedTasks, cancel
from agents.voice.replying import Outcome
from agents.voice.speaking import APOLOGY, GOODBYE, HANDOVER, HOLD, BargeInAck
from agents.voice.speech import Speech
from agents.voice.wiring import CallUnits, call_units
from calls import supervision
from calls.audio import PIPELINE_RATE
from calls.pipeline import (
    BargeIn,
    CallInfo,
    CallPipeline,
    EchoPipeline,
    HangUp,
    PipelineInput,
    PipelineOutput,
)
from callseal.ledger.events import RecordedEvent

__all__ = ["GOODBYE", "AgentPipeline", "CallState", "Coordinator", "pipeline_for_call"]
log = logging.getLogger(__name__)
# end_call hangs up when the goodbye's mark comes back, or this long after its audio should
# have finished playing: a lost mark must not hold the line open.
HANG_UP_MARK_GRACE_S = 3.0
END_CALL_REASON = "end_call tool"
# What the ledger writer and end_call's hang-up may still take once the stream has ended.
SHUTDOWN_WRITES_S = 10


class CallState(enum.Enum):
    GREETING = "greeting"  # the greeting and the recording announcement, heard whole
    LISTENING = "listening"  # the caller's turn may start a reply
    REPLYING = "replying"  # a confirmed turn is being answered; the caller may barge in
    PAYMENT = "payment"  # the collect_payment step: keys only, no turns
    ESCALATED = "escalated"  # waiting for a human (hold music); no turns
    ENDED = "ended"  # end_call: the goodbye, then the hang-up


TRANSITIONS: dict[CallState, frozenset[CallState]] = {
    CallState.GREETING: frozenset(
        {CallState.LISTENING, CallState.ESCALATED, CallState.ENDED}  # the last two: resumed
    ),
    CallState.LISTENING: frozenset({CallState.LISTENING, CallState.REPLYING, CallState.ESCALATED}),
    CallState.REPLYING: frozenset(
        {CallState.LISTENING, CallState.PAYMENT, CallState.ESCALATED, CallState.ENDED}
    ),
    CallState.PAYMENT: frozenset({CallState.REPLYING, CallState.ESCALATED}),
    CallState.ESCALATED: frozenset({CallState.ESCALATED}),
    CallState.ENDED: frozenset(),
}


class IllegalTransition(RuntimeError):
    pass


def pipeline_for_call(info: CallInfo) -> CallPipeline:
    """CALLSEAL_CALL_PIPELINE's default: the agent for numbers that have one."""
    if info.agent_id is not None and info.call_id is not None:
        return AgentPipeline(info)
    return EchoPipeline(info)


class AgentPipeline:
    """The ``CallPipeline``: the call's units (agents/voice/wiring.py) under a coordinator."""

    input_rate = PIPELINE_RATE

    def __init__(self, info: CallInfo) -> None:
        assert info.call_id is not None
        assert info.agent_id is not None
        self.info = info
        self.resumed: ResumedState | None = None
        self.call: Coordinator | None = None  # once the agent is loaded

    def resume(self, events: Sequence[RecordedEvent]) -> None:
        self.resumed = resumed_state(events)

    def snapshot(self) -> dict[str, Any]:
        if self.call is None:
            return {"state": CallState.GREETING.value, "turns": 0, "consent": None}
        return self.call.snapshot()

    async def run(self, inbound: AsyncIterator[PipelineInput]) -> AsyncIterator[PipelineOutput]:
        self.call = Coordinator(
            self.info, await call_units(self.info, self.resumed), resumed=self.resumed
        )
        # Closed with this generator: the coordinator's shutdown is awaited, not left to
        # the garbage collector.
        async with contextlib.aclosing(self.call.run(inbound)) as outputs:
            async for item in outputs:
                yield item


class Coordinator:
    """One call's state machine: takes the listener's signals, starts and supervises the
    replies, and falls back to a human when a reply fails or stays silent."""

    def __init__(self, info: CallInfo, units: CallUnits, *, resumed: ResumedState | None) -> None:
        self.info = info
        self.out = units.out
        self.writer = units.writer
        self.speaker = units.speaker
        self.consent = units.consent
        self.payment = units.payment
        self.replier = units.replier
        self.conversation = units.conversation
        self.greeting = units.greeting
        self.escalation_queue = units.escalation_queue
        self.connections = units.connections
        self.state = CallState.GREETING
        if resumed and resumed.escalated:
            self.state = CallState.ESCALATED
        elif resumed and resumed.ended:
            self.state = CallState.ENDED
        self.turn_no = resumed.turns if resumed else 0
        self.greeted = bool(resumed and resumed.greeted)
        self.tasks = OwnedTasks()
        self.hang_ups = OwnedTasks()  # awaited, not cancelled, when the stream ends
        self.listener = units.listener(self)

    # --- state -----------------------------------------------------------------------------
    def _to(self, state: CallState) -> None:
        if state not in TRANSITIONS[self.state]:
            raise IllegalTransition(f"{self.state.value} → {state.value}")
        self.state = state

    def snapshot(self) -> dict[str, Any]:
        return {"state": self.state.value, "turns": self.turn_no, "consent": self.consent.state}

    # --- the call --------------------------------------------------------------------------
    async def run(
        self, inbound: AsyncIterator[PipelineInput]
    ) -> AsyncGenerator[PipelineOutput, None]:
        writing = asyncio.create_task(self.writer.run())
        try:
            self.tasks.spawn(self._start())
            self.tasks.spawn(self._listen(inbound))
            while True:
                item = await self.out.get()
                if item is None:
                    return
                if isinstance(item, BargeInAck):
                    yield BargeIn()
                    item.done.set()
                    continue
                yield item
        finally:
            await self._shutdown(writing)

    async def _listen(self, inbound: AsyncIterator[PipelineInput]) -> None:
        await self.listener.run(inbound)
        await self.out.put(None)

    async def _start(self) -> None:
        """Greeting + consent announcement (first stream), and the fixed phrases the
        fallbacks need, cached before anything can fail. The LLM server reads the call's
        context, greeting included, meanwhile (``Replier.warm``)."""
        greets = self.state is CallState.GREETING and not self.greeted
        # One utterance, and no barge-in while greeting: the announcement is heard whole
        # before the caller's answer counts, so the context will hold exactly this text.
        if self.state in (CallState.GREETING, CallState.LISTENING, CallState.REPLYING):
            self.tasks.spawn(self.replier.warm(self.greeting if greets else None))
        try:
            if greets:
                prompt = await self.speaker.prompt(self.greeting, turn=0)
                greeting = await self.speaker.play(prompt, kind="greeting", turn=0)
                self.tasks.spawn(self.consent.announced(greeting))
            if self.state is CallState.GREETING:
                self._to(CallState.LISTENING)
            if self.state is CallState.ENDED:
                # A stream resumed after end_call, before the hang-up went through.
                self.hang_ups.spawn(self._hang_up_after_writes(END_CALL_REASON))
            fixed = (APOLOGY, HANDOVER, GOODBYE, HOLD, *CONSENT_REPLIES.values())
            for phrase in dict.fromkeys((*fixed, *CONSENT_NOTES.values())):
                await self.speaker.prompt(phrase, turn=0)
            if self.state is CallState.ESCALATED:
                await self.speaker.hold(turn=self.turn_no)
        except INFERENCE_ERRORS as exc:
            if self.state is CallState.GREETING:
                self._to(CallState.LISTENING)
            await self._fallback(None, "inference_unavailable", str(exc))

    # --- the listener's signals --------------------------------------------------------------
    @property
    def listening(self) -> bool:
        return self.state is CallState.LISTENING

    def turn_starting(self, previous: CallerTurn | None) -> tuple[int, bool] | None:
        if self.state not in (CallState.LISTENING, CallState.REPLYING):
            return None
        if previous is not None:
            for task in (previous.supervisor, previous.reply):
                if task is not None:
                    self.tasks.drop(task)
        self.speaker.barge_in()
        self.turn_no += 1
        self._to(CallState.LISTENING)
        return self.turn_no, self.consent.raw_allowed()

    def speculate(self, turn: CallerTurn) -> None:
        turn.reply = asyncio.create_task(self._reply(turn))

    def resumed_speaking(self, turn: CallerTurn) -> None:
        """The speculative reply answers a half sentence. What it learnt goes with it: its
        words (the turn's end records the caller's words at once if it has some, and those
        would be the half sentence), its stage times (a later reply stamps TTS's first
        audio only if none is there) and its speech."""
        assert turn.reply is not None
        self.tasks.drop(turn.reply)
        turn.reply, turn.speculative = None, False
        turn.text, turn.speech = None, None
        turn.t.clear()

    def turn_ended(self, turn: CallerTurn) -> None:
        if turn.reply is None:
            turn.reply = asyncio.create_task(self._reply(turn))
        turn.committed.set()
        self.replier.record_caller(turn)
        self._to(CallState.REPLYING)
        turn.supervisor = self.tasks.spawn(self._supervise(turn))

    def read_ahead(self, number: int, text: str) -> Coroutine[Any, Any, None]:
        return self.replier.prefill(number, text)

    def dtmf(self, digit: str) -> None:
        if not self.payment.key(digit):
            self.consent.dtmf(digit, turn=self.turn_no)

    # --- replies -----------------------------------------------------------------------------
    async def _reply(self, turn: CallerTurn) -> None:
        try:
            await self._carry_out(turn, await self.replier.reply(turn))
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

    async def _carry_out(self, turn: CallerTurn, outcome: Outcome) -> None:
        number = turn.number
        if outcome.action == "collect_payment":
            await self._collect_payment(turn)
        elif outcome.action == "escalate":
            prompt = await self.speaker.prompt(HANDOVER, turn=number)
            await self.speaker.play(prompt, kind="escalation", turn=number)
            turn.outcome.set()
            self._escalate(outcome.reason)
        elif outcome.action == "end_call":
            prompt = await self.speaker.prompt(GOODBYE, turn=number)
            goodbye = await self.speaker.play(prompt, kind="goodbye", turn=number)
            turn.outcome.set()
            self._to(CallState.ENDED)
            self.tasks.spawn(self._hang_up_when_heard(goodbye, prompt))

    async def _collect_payment(self, turn: CallerTurn) -> None:
        capture = self.payment.begin(turn)
        if capture is None:
            await self.payment.unavailable(turn)
            return
        self._to(CallState.PAYMENT)
        try:
            result = await self.payment.collect(turn, capture)
        finally:
            if self.state is CallState.PAYMENT:
                self._to(CallState.REPLYING)
        await self.payment.announce(turn, result)

    async def _supervise(self, turn: CallerTurn) -> None:
        """The fallback watchdog of one committed turn."""
        assert turn.reply is not None
        assert turn.end_clock is not None
        deadline = turn.end_clock + settings.CALLSEAL_AGENT_NO_AUDIO_S
        try:
            await asyncio.wait_for(turn.outcome.wait(), max(0.05, deadline - time.monotonic()))
        except TimeoutError:
            await cancel(turn.reply)
            reached = ", ".join(
                f"{step} {turn.ms(step)} ms"
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
        elif self.state is CallState.REPLYING:
            self._to(CallState.LISTENING)
        elif self.state is CallState.ESCALATED:
            await self.speaker.hold(turn=self.turn_no)

    async def _fallback(self, turn: CallerTurn | None, reason: str, detail: str) -> None:
        if self.state in (CallState.ESCALATED, CallState.ENDED):
            return
        FALLBACKS.labels(region=self.info.region, reason=reason).inc()
        number = turn.number if turn else self.turn_no
        if turn is not None and not turn.recorded:
            if turn.text is None:
                turn.text = ""  # the words were lost with the service
            turn.committed.set()
            self.replier.record_caller(turn)
        self.writer.fallback(turn=number, reason=reason, detail=detail)
        self._to(CallState.ESCALATED)
        apology = self.speaker.prompts.get(APOLOGY)
        if apology is not None:
            await self.speaker.play(apology, kind="apology", turn=number)
        self._escalate(f"fallback: {reason}")
        await self.speaker.hold(turn=self.turn_no)

    def _escalate(self, reason: str) -> None:
        self._to(CallState.ESCALATED)
        conversation = self.conversation
        self.writer.escalated(
            reason=reason,
            turns=conversation.turns,
            compressed_turns=conversation.compressed_turns,
            summarised=bool(conversation.summary),
            queue=self.escalation_queue,
        )

    # --- hanging up ------------------------------------------------------------------------------
    async def _hang_up_when_heard(self, goodbye: Speech, prompt: prompts.CachedPrompt) -> None:
        """Hang up once the caller heard the goodbye (its mark came back), or a grace
        period after its audio should have finished: Twilio's marks can be lost. The
        first frame is our own player's, so it is waited for without a bound."""
        await goodbye.started.wait()
        playing_s = len(prompt.pcm) / prompts.RATE
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(goodbye.played.wait(), playing_s + HANG_UP_MARK_GRACE_S)
        self.speaker.record(goodbye)  # what was heard of it, recorded before the hang-up
        self.hang_ups.spawn(self._hang_up_after_writes(END_CALL_REASON))

    async def _hang_up_after_writes(self, reason: str) -> None:
        await self.writer.caught_up()  # the ledger has the goodbye before the hang-up
        await self._hang_up(reason)

    async def _hang_up(self, reason: str) -> None:
        """Ask Twilio to end the call (it then stops the stream and sends the status
        callback); when it refuses or cannot be reached, the refusal is recorded and the
        consumer closes the stream (``HangUp``), so the caller is not left in silence."""
        assert self.info.agent_id is not None
        assert self.info.call_id is not None
        # Not thread-sensitive: Twilio may take CALLSEAL_TWILIO_TIMEOUT_S to answer, and
        # the thread-sensitive executor serialises the ORM calls of every call.
        end = database_sync_to_async(supervision.call_agent_end, thread_sensitive=False)
        try:
            accepted = await end(
                tenant=self.writer.tenant,
                call_id=self.info.call_id,
                agent_id=self.info.agent_id,
                reason=reason,
            )
        except Exception:
            log.exception("end_call: the hang-up was not recorded")
            accepted = False
        if not accepted:
            await self.out.put(HangUp())

    # --- the end -----------------------------------------------------------------------------
    async def _shutdown(self, writing: asyncio.Task[None]) -> None:
        turn = self.listener.turn
        owners = (self.tasks, self.listener.tasks, self.speaker.tasks, self.consent.tasks)
        for owner in owners:
            owner.cancel()
        for owner in owners:
            await owner.close()
        if turn is not None:
            await cancel(turn.reply)
            await turn.asr.close()
        self.speaker.record_unfinished()  # what was heard before the caller hung up
        self.writer.close()
        settling = asyncio.create_task(self.hang_ups.settled())
        try:
            _, pending = await asyncio.wait((writing, settling), timeout=SHUTDOWN_WRITES_S)
        except asyncio.CancelledError:
            pending = {writing, settling}
        if pending:
            writing.cancel()
            await self.hang_ups.close()
        await cancel(settling)
        for connection in self.connections:
            await connection.close()

"""The agent's side of the call: fixed phrases from the prompt cache, sentences through
TTS to the player, the commit point (audio of a speculative reply is held until the turn
is confirmed), barge-in, and what the caller heard of each utterance (``turn.agent``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import numpy as np
from django.conf import settings

from agents.metrics import observe_turn, observe_underruns
from agents.pipeline.sentences import SentenceChunker
from agents.voice import prompts
from agents.voice.context import Conversation
from agents.voice.endpoints import Endpoint, first_answering
from agents.voice.ledger_writer import LedgerWriter
from agents.voice.listening import CallerTurn
from agents.voice.owned import OwnedTasks, cancel
from agents.voice.speech import Speech
from calls.pipeline import AgentAudio, PipelineOutput
from inference.client import InferenceClient, TtsDone

APOLOGY = "I'm sorry, I'm having trouble right now. Let me get a colleague to help you."
HANDOVER = "Let me connect you with a colleague."
GOODBYE = "Thank you for calling. Goodbye."
HOLD = "Please hold, a colleague will be with you shortly."
# The recording announcement (with the greeting) and payment prompts are heard whole.
UNINTERRUPTIBLE = frozenset({"greeting", "payment"})


class BargeInAck:
    """A barge-in request: the coordinator's output loop yields BargeIn, then sets
    ``done`` (the player has cleared by the time the generator is resumed)."""

    def __init__(self) -> None:
        self.done = asyncio.Event()


Outbox = asyncio.Queue[PipelineOutput | BargeInAck | None]


class Speaker:
    def __init__(
        self,
        *,
        out: Outbox,
        writer: LedgerWriter,
        conversation: Conversation,
        raw_allowed: Callable[[], bool],
        endpoints: Sequence[Endpoint],
        clients: Mapping[str, InferenceClient],
        voice: str,
        home_region: str,
        storage_root: Any,
    ) -> None:
        self.out = out
        self.writer = writer
        self.conversation = conversation
        self.raw_allowed = raw_allowed
        self.endpoints = endpoints
        self.clients = clients
        self.voice = voice
        self.home_region = home_region
        self.storage_root = storage_root
        self.speech: Speech | None = None  # the utterance the caller may be hearing
        self.prompts: dict[str, prompts.CachedPrompt] = {}
        self.tasks = OwnedTasks()

    # --- fixed phrases -------------------------------------------------------------------
    async def prompt(self, text: str, *, turn: int) -> prompts.CachedPrompt:
        """``text`` synthesised once (the first region that answers) and cached."""
        if text in self.prompts:
            return self.prompts[text]

        async def synthesise(endpoint: Endpoint) -> prompts.CachedPrompt:
            return await prompts.cached_prompt(
                client=self.clients[endpoint.region],
                endpoint=endpoint.inference_host,
                region=endpoint.region,
                voice=self.voice,
                text=text,
                root=self.storage_root,
            )

        prompt, _ = await first_answering(self.endpoints, synthesise)
        self.prompts[text] = prompt
        self.writer.session_hop(turn, prompt.provenance, prompt.endpoint, cached=True)
        return prompt

    async def play(self, prompt: prompts.CachedPrompt, *, kind: str, turn: int) -> Speech:
        speech = Speech(kind=kind, turn=turn, texts=[prompt.text])
        await self._emit(speech, prompt.pcm, text=prompt.text, mark=True)
        speech.finish_generating()
        self.tasks.spawn(self._record_when_played(speech))
        return speech

    async def hold(self, *, turn: int) -> None:
        """The caller waits for a human: never more than ~2 s of silence."""
        hold = self.prompts.get(HOLD)
        speech = self.speech
        while hold is not None:
            if speech is not None:
                await speech.played.wait()
            await asyncio.sleep(1.5)
            speech = await self.play(hold, kind="hold", turn=turn)

    # --- generated speech ----------------------------------------------------------------
    async def speak_texts(self, turn: CallerTurn, texts: list[str], *, kind: str) -> None:
        async def gen() -> AsyncGenerator[str, None]:
            # Sentence by sentence, so that what the caller heard is known per sentence.
            chunker = SentenceChunker(first_clause_words=settings.CALLSEAL_AGENT_FIRST_CLAUSE_WORDS)
            for text in texts:
                for sentence in chunker.feed(text + " "):
                    yield sentence
            for sentence in chunker.flush():
                yield sentence

        await self.speak(turn, gen(), kind=kind)

    async def speak(
        self,
        turn: CallerTurn,
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
                                await turn.committed.wait()  # the commit point
                                await self._emit(speech, held, text=sentence, mark=True)
                            break
                        pcm = np.frombuffer(item, dtype="<i2").astype(np.int16)
                        turn.t.setdefault("tts_first_audio", time.monotonic())
                        if held is not None:
                            await turn.committed.wait()
                            await self._emit(speech, held, text="", mark=False)
                        held = pcm
                self.writer.session_hop(turn.number, tts.provenance, endpoint)
            finally:
                await cancel(producer)
        speech.finish_generating()
        if not speech.pieces:
            await turn.committed.wait()
            turn.outcome.set()
        self.tasks.spawn(self._record_when_played(speech))

    @asynccontextmanager
    async def _connect_tts(self) -> AsyncIterator[tuple[Any, str]]:
        async def connect(endpoint: Endpoint) -> Any:
            stream = self.clients[endpoint.region].tts(voice=self.voice, sample_rate=prompts.RATE)
            await stream.__aenter__()
            return stream

        stream, endpoint = await first_answering(self.endpoints, connect)
        try:
            yield stream, endpoint.inference_host
        finally:
            await stream.__aexit__(None, None, None)

    def _first_frame_cb(self, turn: CallerTurn) -> Callable[[Speech, float], None]:
        def on_first_frame(speech: Speech, at: float) -> None:
            turn.t["first_frame"] = at
            turn.outcome.set()
            steps = {
                key: turn.ms(key)
                for key in ("asr_final", "llm_first_token", "tts_first_audio", "first_frame")
            }
            observe_turn(region=self.home_region, steps=steps)
            self.writer.latency(turn=turn.number, steps=steps, speculative=turn.speculative)

        return on_first_frame

    # --- the player and what was heard ---------------------------------------------------
    async def _emit(self, speech: Speech, pcm: np.ndarray, *, text: str, mark: bool) -> None:
        listener = speech.add_piece(text)
        self.speech = speech
        await self.out.put(
            AgentAudio(pcm=pcm, sample_rate=prompts.RATE, text=text, mark=mark, listener=listener)
        )

    def barge_in(self) -> None:
        """Stop the agent: audio not yet handed to the player is dropped, the player clears
        (BargeIn), and the utterance is recorded with what was heard once the clear is
        done (marks flushed by it never count)."""
        speech = self.speech
        if speech is None or not speech.audible:
            return
        if speech.kind in UNINTERRUPTIBLE:
            return  # heard whole; the caller's turn is answered after it
        self.speech = None
        kept = []
        while not self.out.empty():
            item = self.out.get_nowait()
            if not isinstance(item, AgentAudio):
                kept.append(item)  # an earlier ack or the end stays, in order
        for item in kept:
            self.out.put_nowait(item)
        ack = BargeInAck()
        self.out.put_nowait(ack)
        speech.interrupted = True

        async def record() -> None:
            await ack.done.wait()
            self.record(speech)

        self.tasks.spawn(record())

    async def _record_when_played(self, speech: Speech) -> None:
        await speech.played.wait()
        self.record(speech)

    def record(self, speech: Speech) -> None:
        """The utterance, once, with what the caller heard of it (``turn.agent``)."""
        if speech.recorded:
            return
        speech.recorded = True
        if speech.kind == "hold":
            return  # the hold loop's repeats are not conversation
        self.conversation.add("assistant", speech.heard_text)
        self.writer.agent_turn(
            turn=speech.turn,
            text=speech.text,
            heard_text=speech.heard_text,
            interrupted=speech.interrupted,
            kind=speech.kind,
            # Fixed phrases are the tenant's words; a generated reply may repeat the
            # caller's, so it is kept raw only under consent.
            keep_raw=speech.kind != "reply" or self.raw_allowed(),
        )
        if speech.underruns:
            observe_underruns(region=self.home_region, kind=speech.kind, gaps=speech.underruns)
            self.writer.underrun(turn=speech.turn, kind=speech.kind, gaps=speech.underruns)

    def record_unfinished(self) -> None:
        """The call ended: what was heard of the last utterance is recorded."""
        if self.speech is not None:
            self.record(self.speech)

"""The reply to one caller turn: the caller's words (the peek or an ASR final), consent
answers, tool routing (keywords or the LLM), the knowledge base, and the LLM's reply
streamed into the speaker. The replier never changes the call's state: a reply that hands
over, ends the call or collects a payment returns that ``Outcome`` to the coordinator.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from agents.pipeline.sentences import SentenceChunker
from agents.spec import AgentSpec
from agents.voice.consent_step import ConsentStep
from agents.voice.context import Conversation, Turn
from agents.voice.endpoints import INFERENCE_ERRORS, Endpoint, first_answering
from agents.voice.ledger_writer import LedgerWriter
from agents.voice.listening import CallerTurn
from agents.voice.speaking import Speaker
from agents.voice.tools import RESPOND, TOOLS, best_entry, route_by_keywords
from inference.llm import LlmClient, Message, Tool

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the coordinator does after a reply: nothing more (``replied``), hand over to
    a human (``escalate``, with the reason), say goodbye and hang up (``end_call``) or
    run the payment step (``collect_payment``)."""

    action: str = "replied"
    reason: str = ""


REPLIED = Outcome()


class Replier:
    def __init__(
        self,
        *,
        spec: AgentSpec,
        conversation: Conversation,
        endpoints: Sequence[Endpoint],
        llms: Mapping[str, LlmClient],
        speaker: Speaker,
        consent: ConsentStep,
        writer: LedgerWriter,
        call_id: object,
    ) -> None:
        self.spec = spec
        self.conversation = conversation
        self.endpoints = endpoints
        self.llms = llms
        self.speaker = speaker
        self.consent = consent
        self.writer = writer
        self.call_id = call_id
        self._read_ahead_turn = -1  # the last turn whose context went to the LLM ahead

    # --- reading ahead -------------------------------------------------------------------
    async def warm(self, greeting: str | None) -> None:
        """Have the LLM server evaluate the context of the call's first reply (system
        prompt and the greeting) while the greeting plays: the server may have served
        another agent since, and re-reading them delays the first reply (docs/adr/0010,
        Measured). A failure here is only logged; the turn that needs the LLM meets it
        and falls back."""
        messages = self.conversation.messages()
        if greeting:
            messages.append({"role": "assistant", "content": greeting})
        await self._read_ahead(messages, turn=0, what="warm-up")

    async def prefill(self, number: int, text: str) -> None:
        """The caller's words so far (a partial or the peek), read ahead."""
        messages = self.conversation.messages(then=Turn("user", text))
        await self._read_ahead(messages, turn=number, what="prefill")

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
            self.writer.llm_hop(turn, endpoint, model)

    # --- the caller's words --------------------------------------------------------------
    def record_caller(self, turn: CallerTurn) -> None:
        """The caller's turn, once it is confirmed and its words are known (before the
        agent's reply is heard: a slow reply must not lose the caller's words)."""
        if turn.recorded or turn.text is None or not turn.committed.is_set():
            return
        turn.recorded = True
        self.conversation.add("user", turn.text or "")
        self.writer.caller_turn(
            turn=turn.number,
            text=turn.text or "",
            started_s=turn.started_s,
            ended_s=turn.ended_s,
            keep_raw=turn.raw_ok and self.consent.raw_allowed(),
        )
        asr = turn.asr
        if asr.provenance is not None:
            self.writer.session_hop(turn.number, asr.provenance, asr.endpoint)

    async def _caller_words(self, turn: CallerTurn) -> str:
        """The turn's transcript: the peek taken when the caller's level dropped, if no
        louder audio came after it, else a final of everything sent."""
        peek = turn.peek
        if peek is not None:
            text = await asyncio.shield(peek)
            if text is not None and turn.peek is peek:
                return text
        return await turn.asr.flush()

    def _messages(self, turn: CallerTurn) -> list[Message]:
        """The LLM's messages for ``turn``'s reply: the caller's words are in the context
        once the turn is recorded (a reply that began before the turn ended adds them)."""
        if turn.recorded:
            return self.conversation.messages()
        return self.conversation.messages(then=Turn("user", turn.text or ""))

    # --- the reply -----------------------------------------------------------------------
    async def reply(self, turn: CallerTurn) -> Outcome:
        """Answer ``turn``; audio waits for its commit point. Inference errors propagate."""
        text = await self._caller_words(turn)
        turn.t["asr_final"] = time.monotonic()
        turn.text = text
        self.record_caller(turn)
        if not text:
            await turn.committed.wait()
            turn.outcome.set()  # nothing intelligible: stay quiet, keep listening
            return REPLIED
        if await self.consent.reply(turn, text):
            return REPLIED
        return await self._answer(turn, text)

    async def _answer(self, turn: CallerTurn, text: str) -> Outcome:
        spec = self.spec
        if settings.CALLSEAL_AGENT_TOOL_ROUTING == "llm":
            tool, routed_by = await self._route_by_llm(turn), "llm"
        else:
            tool = route_by_keywords(text, tools=spec.tools, knowledge=spec.knowledge).tool
            routed_by = "keywords"
        if tool is None:
            await self._llm_reply(turn)
            return REPLIED
        if routed_by == "llm":
            arguments = await self._tool_arguments(turn, TOOLS[tool])
        else:
            # Keyword routing takes the arguments from the caller's words: an LLM round
            # trip here is silence the caller hears on a CPU region (docs/adr/0010).
            arguments = _keyword_arguments(tool, text)
        await turn.committed.wait()  # the commit point

        def called(result: str) -> None:
            self.writer.tool_called(
                turn=turn.number, name=tool, arguments=arguments, result=result, routed_by=routed_by
            )

        if tool == "lookup":
            question = str(arguments.get("question") or text)
            entry, score = best_entry(question, spec.knowledge)
            if entry is None or score == 0:
                entry, score = best_entry(text, spec.knowledge)
            answer = entry.answer if entry else "I'm sorry, I don't have that information."
            called(f"answered: {entry.question}" if entry else "no entry")
            await self.speaker.speak_texts(turn, [answer], kind="lookup")
            return REPLIED
        if tool == "collect_payment":
            called("collecting")
            return Outcome("collect_payment")
        if tool == "escalate_to_human":
            called("queued")
            return Outcome("escalate", str(arguments.get("reason") or "caller asked for a human"))
        called("ending")
        return Outcome("end_call")

    async def _tool_arguments(self, turn: CallerTurn, tool: Tool) -> dict[str, Any]:
        if not tool.parameters.get("properties"):
            return {}
        llm, endpoint = await self._llm()
        call = await llm.tool_call(
            self._messages(turn), tools=[tool], choice=tool.name, max_tokens=64
        )
        self.writer.llm_hop(turn.number, endpoint, call.model)
        return call.arguments

    async def _route_by_llm(self, turn: CallerTurn) -> str | None:
        llm, endpoint = await self._llm()
        tools = [TOOLS[name] for name in self.spec.tools] + [RESPOND]
        call = await llm.tool_call(self._messages(turn), tools=tools, max_tokens=64)
        self.writer.llm_hop(turn.number, endpoint, call.model)
        return None if call.name == "respond" else call.name

    async def _llm(self) -> tuple[LlmClient, Endpoint]:
        """The first endpoint whose LLM server answers (home region, then the policy's)."""

        async def answering(endpoint: Endpoint) -> LlmClient:
            client = self.llms[endpoint.region]
            await client.model_name()
            return client

        return await first_answering(self.endpoints, answering)

    async def _llm_reply(self, turn: CallerTurn) -> None:
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
            self.writer.llm_hop(turn.number, endpoint, model)  # the continuation is a request too
            rest = llm.continue_chat(messages, written, max_tokens=max(1, budget - tokens))
            try:
                async for delta in rest:
                    for chunk in chunker.feed(delta):
                        yield chunk
            finally:
                await rest.aclose()
            for chunk in chunker.flush():
                yield chunk

        self.writer.llm_hop(turn.number, endpoint, model)
        await self.speaker.speak(turn, sentences(), kind="reply", synthesised=synthesised)


def _keyword_arguments(tool: str, text: str) -> dict[str, Any]:
    if tool == "lookup":
        return {"question": text[:300]}
    if tool == "escalate_to_human":
        return {"reason": f"caller asked for a person: {text}"[:200]}
    return {}

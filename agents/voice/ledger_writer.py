"""The agent's ledger writer: every event the voice agent records is built here and
appended in order, one transaction at a time, by one owned task off the audio path.
Redaction (Presidio) runs in that task, in a thread.

The other units hand it facts (a turn's words, a speech that was heard, a hop to a
region); it never calls back. ``caught_up()`` lets the coordinator act once what was
queued before is written (end_call's hang-up comes after the goodbye in the ledger).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from channels.db import database_sync_to_async

from agents import events as ev
from agents.voice import records
from agents.voice.context import Turn
from agents.voice.endpoints import Endpoint
from callseal.tenancy.context import TenantRef

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Escalation:
    """``call.escalated`` before redaction: its summary and transcript are redacted by the
    writer's thread, as the turns are."""

    call_id: uuid.UUID
    reason: str
    turns: tuple[Turn, ...]
    compressed_turns: int
    summarised: bool
    queue: str


@dataclass(frozen=True, slots=True)
class _Entry:
    events: list[object]
    personal: bool
    keep_raw: bool


class LedgerWriter:
    def __init__(
        self,
        *,
        tenant: TenantRef,
        call_id: uuid.UUID,
        transcript_key: str,
        home_region: str,
        stream_index: int,
    ) -> None:
        self.tenant = tenant
        self.call_id = call_id
        self.transcript_key = transcript_key
        self.home_region = home_region
        self.stream_index = stream_index
        self._queue: asyncio.Queue[_Entry | None] = asyncio.Queue()
        self._queued = 0
        self._written = 0
        self._progress = asyncio.Condition()

    # --- the queue -----------------------------------------------------------------------
    def append(self, event: object, *, personal: bool = False, keep_raw: bool = True) -> None:
        self._queued += 1
        self._queue.put_nowait(_Entry([event], personal, keep_raw))

    async def run(self) -> None:
        """Append the queued events in order until ``close``."""
        while True:
            entry = await self._queue.get()
            if entry is None:
                return
            try:
                prepared = await asyncio.to_thread(_prepare, entry.events, entry.keep_raw)
                await database_sync_to_async(records.agent_events_append)(
                    tenant=self.tenant,
                    call_id=self.call_id,
                    events=prepared,
                    subject=self.transcript_key if entry.personal else None,
                )
            except Exception:
                log.exception("agent event not recorded")
            finally:
                async with self._progress:
                    self._written += 1
                    self._progress.notify_all()

    async def caught_up(self) -> None:
        """Return once every event queued before the call is written (or failed)."""
        target = self._queued
        async with self._progress:
            await self._progress.wait_for(lambda: self._written >= target)

    def close(self) -> None:
        """``run`` returns after the events queued so far."""
        self._queue.put_nowait(None)

    # --- the events ----------------------------------------------------------------------
    def inference_hop(
        self,
        *,
        turn: int,
        service: str,
        region: str,
        model: str,
        model_version: str,
        engine: str,
        endpoint: str,
        cached: bool = False,
    ) -> None:
        """The region and model that served one inference session of ``turn``."""
        self.append(
            ev.InferenceHop(
                turn=turn,
                service=service,
                region=region,
                model=model,
                model_version=model_version,
                engine=engine,
                endpoint=endpoint,
                home_region=self.home_region,
                cached=cached,
            )
        )

    def session_hop(
        self, turn: int, provenance: Any, endpoint: str, *, cached: bool = False
    ) -> None:
        """An ASR or TTS session (or a cached prompt: TTS's, earlier) by its provenance."""
        self.inference_hop(
            turn=turn,
            service="tts" if cached else provenance.service,
            region=provenance.region,
            model=provenance.model,
            model_version=provenance.model_version,
            engine=provenance.engine,
            endpoint=endpoint,
            cached=cached,
        )

    def llm_hop(self, turn: int, endpoint: Endpoint, model: str) -> None:
        """One request to an LLM server (OpenAI-compatible: the model is its version)."""
        self.inference_hop(
            turn=turn,
            service="llm",
            region=endpoint.region,
            model=model,
            model_version=model,
            engine="openai-compatible",
            endpoint=endpoint.llm_host,
        )

    def caller_turn(
        self, *, turn: int, text: str, started_s: float, ended_s: float | None, keep_raw: bool
    ) -> None:
        self.append(
            ev.TurnCaller(
                turn=turn,
                text=text,
                redacted_text="",  # filled by the writer's thread
                started_ms=round(started_s * 1000),
                ended_ms=round((ended_s or started_s) * 1000),
                stream_index=self.stream_index,
            ),
            personal=True,
            keep_raw=keep_raw,
        )

    def agent_turn(
        self,
        *,
        turn: int,
        text: str,
        heard_text: str,
        interrupted: bool,
        kind: str,
        keep_raw: bool,
    ) -> None:
        self.append(
            ev.TurnAgent(
                turn=turn,
                text=text,
                heard_text=heard_text,
                redacted_text="",  # filled by the writer's thread
                interrupted=interrupted,
                kind=kind,
            ),
            personal=True,
            keep_raw=keep_raw,
        )

    def underrun(self, *, turn: int, kind: str, gaps: Sequence[float]) -> None:
        self.append(
            ev.TurnUnderrun(
                turn=turn,
                kind=kind,
                gaps=len(gaps),
                silence_ms=round(sum(gaps) * 1000),
                longest_ms=round(max(gaps) * 1000),
            )
        )

    def latency(self, *, turn: int, steps: dict[str, int | None], speculative: bool) -> None:
        self.append(
            ev.TurnLatency(
                turn=turn,
                asr_final_ms=steps["asr_final"],
                llm_first_token_ms=steps["llm_first_token"],
                tts_first_audio_ms=steps["tts_first_audio"],
                first_frame_ms=steps["first_frame"],
                voice_to_voice_ms=steps["first_frame"],
                speculative=speculative,
            )
        )

    def tool_called(
        self, *, turn: int, name: str, arguments: dict[str, Any], result: str, routed_by: str
    ) -> None:
        self.append(
            ev.ToolCalled(
                turn=turn, name=name, arguments=arguments, result=result, routed_by=routed_by
            )
        )

    def fallback(self, *, turn: int, reason: str, detail: str) -> None:
        self.append(ev.AgentFallback(turn=turn, reason=reason, detail=detail))

    def escalated(
        self,
        *,
        reason: str,
        turns: Sequence[Turn],
        compressed_turns: int,
        summarised: bool,
        queue: str,
    ) -> None:
        """``call.escalated`` with the transcript so far (redacted by the writer)."""
        self.append(
            _Escalation(self.call_id, reason, tuple(turns), compressed_turns, summarised, queue)
        )


def _prepare(events: list[object], keep_raw: bool = True) -> list[object]:
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
        elif isinstance(event, _Escalation):
            event = _escalation_event(event)
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


def _escalation_event(draft: _Escalation) -> ev.CallEscalated:
    from compliance.redaction import redact_text

    transcript = [
        {
            "role": "caller" if t.role == "user" else "agent",
            "text": redact_text(t.text).redacted_text,
        }
        for t in draft.turns
    ]
    last = next((t["text"] for t in reversed(transcript) if t["role"] == "caller"), "")
    summary = (
        f"{redact_text(draft.reason).redacted_text}. Last words from the caller: {last or '(none)'}"
    )
    if draft.summarised:
        summary += f" ({draft.compressed_turns} earlier turns summarised)"
    return ev.CallEscalated(
        call_id=str(draft.call_id),
        reason=draft.reason[:200],
        queue=draft.queue,
        summary=summary[:1000],
        transcript=transcript,
    )

"""Scripted conversations with a tenant's AI agent (``simulate_calls --script``).

Each scenario is one simulated call (calls.simulator.run_conversation): the caller answers
the recording question as the tenant's consent policy asks (keypad, so that it never
depends on speech recognition), then says each line once the agent has finished speaking.
What the agent said in reply to each line comes from the call's ledger: its ``turn.agent``
events carry the words the caller actually heard (by echoed marks).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from calls.models import PhoneNumber
from calls.scripts import Scenario
from calls.selectors import call_get_by_sid
from calls.services import call_events, consent_required
from calls.simulator import Account, CallerTurn, CallReport, run_conversation, speak
from callseal.ledger.events import RecordedEvent
from callseal.tenancy.context import tenant_context
from compliance.consent import DtmfKeys, Requirement

# The call's last events (its end, the last reply) are appended as its stream closes.
LEDGER_WAIT_S = 10.0


@dataclass
class TurnResult:
    said: str  # the caller's line
    dtmf: str
    heard: str  # what the agent said in reply, as the caller heard it (ledger)
    agent_kinds: list[str]  # reply, lookup, escalation, goodbye, apology, consent, ...
    recognised: str  # what the agent's speech recognition made of the line (ledger)
    # The caller's last sound → the reply's first audio; None when nothing in the ledger
    # answered the turn.
    voice_to_voice_ms: float | None
    wait_timed_out: bool  # the caller spoke before the agent had finished its reply


@dataclass
class ConversationResult:
    scenario: str
    call_sid: str
    error: str | None
    ended_by: str | None
    greeting: str  # what the agent said before the caller's first turn
    consent_keys: str  # pressed to agree to recording ("" when the policy asks for none)
    consent_heard: str
    turns: list[TurnResult] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def consent_turn(*, phone_number: PhoneNumber, caller: str) -> CallerTurn | None:
    """The caller's answer to the recording announcement, if the tenant's policy needs
    one for this caller: the keypad's yes."""
    required = consent_required(phone_number=phone_number, from_number=caller)
    if required.requirement != Requirement.EXPLICIT:
        return None
    return CallerTurn(audio=np.zeros(0, dtype=np.int16), dtmf=DtmfKeys().yes)


def conversation_run(
    *, account: Account, phone_number: PhoneNumber, scenario: Scenario, caller: str
) -> ConversationResult:
    """Place the scenario's call and read what was said and heard from the ledger."""
    consent = consent_turn(phone_number=phone_number, caller=caller)
    lines = [
        CallerTurn(
            audio=speak(turn.caller) if turn.caller else np.zeros(0, dtype=np.int16),
            dtmf=turn.dtmf,
        )
        for turn in scenario.turns
    ]
    turns = [consent, *lines] if consent is not None else lines
    report = asyncio.run(run_conversation(account, turns, caller=caller))
    with tenant_context(phone_number.tenant):
        events = _events_when_ended(report.call_sid, wait=report.error is None)
    return conversation_result(
        scenario=scenario,
        report=report,
        events=events,
        consent_keys=consent.dtmf if consent is not None else "",
    )


def _events_when_ended(call_sid: str, *, wait: bool) -> list[RecordedEvent]:
    deadline = time.monotonic() + (LEDGER_WAIT_S if wait else 0.0)
    while True:
        call = call_get_by_sid(call_sid=call_sid)
        events = call_events(call_id=call.id) if call is not None else []
        if any(e.type == "call.ended" for e in events) or time.monotonic() > deadline:
            return events
        time.sleep(0.2)


def _spoken(event: RecordedEvent, raw: str, redacted: str) -> str:
    """The raw words where the ledger keeps them (consent; not erased), else redacted."""
    value = event.data.get(raw)
    return value if isinstance(value, str) and value else str(event.data.get(redacted, ""))


# Consent decisions carry the stream offset at which the caller gave them.
_CONSENT_ANSWERS = ("consent.given", "consent.denied", "consent.revoked")


def _turn_at(report: CallReport, stream: int, offset_ms: int) -> int:
    """The caller turn under way at ``offset_ms`` of media stream ``stream``: the last one
    begun by then (-1: before the first)."""
    index = -1
    for i, turn in enumerate(report.turns):
        if (turn.stream, turn.stream_ms) <= (stream, offset_ms):
            index = i
    return index


def conversation_result(
    *,
    scenario: Scenario,
    report: CallReport,
    events: Sequence[RecordedEvent],
    consent_keys: str,
) -> ConversationResult:
    """The caller's words (``turn.caller``, by where they ended in the stream) and answers
    to the recording question (by the offset they carry) say which caller turn is under
    way; the agent's speech that follows them in the ledger answers that turn (the caller
    waits for the agent to finish, so a reply is recorded before the next turn begins).
    The ledger's order is used, not its clock: the agent's events may be appended late.
    ``report.turns`` starts with the consent answer when ``consent_keys`` were pressed."""
    offset = 1 if consent_keys else 0
    result = ConversationResult(
        scenario=scenario.name,
        call_sid=report.call_sid,
        error=report.error,
        ended_by=report.ended_by,
        greeting="",
        consent_keys=consent_keys,
        consent_heard="",
    )
    agent: list[list[RecordedEvent]] = [[] for _ in report.turns]
    caller: list[list[RecordedEvent]] = [[] for _ in report.turns]
    greeting: list[RecordedEvent] = []
    current = -1
    for event in events:
        data = event.data
        stream = int(data.get("stream_index") or 1)
        if event.type == "turn.caller":
            current = max(current, _turn_at(report, stream, int(data["ended_ms"])))
            if current >= 0:
                caller[current].append(event)
        elif event.type in _CONSENT_ANSWERS:
            current = max(current, _turn_at(report, stream, int(data["audio_offset_ms"])))
        elif event.type == "turn.agent":
            if data.get("kind") == "greeting" or current < 0:
                greeting.append(event)
            else:
                agent[current].append(event)
    result.greeting = " ".join(_spoken(e, "heard_text", "redacted_text") for e in greeting)
    if offset and agent:
        result.consent_heard = " ".join(_spoken(e, "heard_text", "redacted_text") for e in agent[0])
    for i, turn in enumerate(scenario.turns):
        timing = report.turns[i + offset] if i + offset < len(report.turns) else None
        replies = agent[i + offset] if timing is not None else []
        words = caller[i + offset] if timing is not None else []
        result.turns.append(
            TurnResult(
                said=turn.caller,
                dtmf=turn.dtmf,
                heard=" ".join(_spoken(e, "heard_text", "redacted_text") for e in replies),
                agent_kinds=[str(e.data.get("kind", "")) for e in replies],
                recognised=" ".join(_spoken(e, "text", "redacted_text") for e in words),
                # Agent audio that answered nothing (a hold message after an escalation)
                # is no voice-to-voice figure.
                voice_to_voice_ms=timing.voice_to_voice_ms if timing and replies else None,
                wait_timed_out=timing.wait_timed_out if timing is not None else False,
            )
        )
    return result


def conversations_summary(results: Sequence[ConversationResult]) -> dict[str, Any]:
    v2v = [t.voice_to_voice_ms for r in results for t in r.turns if t.voice_to_voice_ms]
    return {
        "calls": len(results),
        "failed": sum(1 for r in results if r.error),
        "turns": sum(len(r.turns) for r in results),
        "unanswered_turns": sum(1 for r in results for t in r.turns if not t.heard),
        "voice_to_voice_ms": {
            "p50": round(statistics.median(v2v), 1) if v2v else None,
            "max": round(max(v2v), 1) if v2v else None,
        },
    }

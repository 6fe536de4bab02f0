"""Recording consent during the call (compliance/consent.py): the announcement's evidence
once it was heard, the caller's answer by keypad or in words, its acknowledgement, and
whether the caller's raw words may be kept. The transport gate starts or stops the
recording after each piece of evidence is appended."""

from __future__ import annotations

from collections.abc import Mapping

from django.utils import timezone

from agents.voice.endpoints import INFERENCE_ERRORS
from agents.voice.ledger_writer import LedgerWriter
from agents.voice.listening import CallerTurn
from agents.voice.owned import OwnedTasks
from agents.voice.speaking import Speaker
from agents.voice.speech import Speech
from compliance.callgate import CallConsentRecord, CallGate
from compliance.consent import (
    CallConsent,
    ConsentDenied,
    ConsentError,
    ConsentGiven,
    ConsentRevoked,
    Evidence,
    announcement_version,
)
from compliance.consent_intent import carries_request, parse_consent_intent

CONSENT_REPLIES = {
    ConsentGiven: "Thank you. How can I help you today?",
    ConsentDenied: "Understood, this call will not be recorded. How can I help you today?",
    ConsentRevoked: "Understood. The recording has been stopped.",
}
# A refusal that comes with a question ("no, what are your hours?") is acknowledged
# briefly, then the question is answered; consent with one is just answered.
CONSENT_NOTES = {
    ConsentDenied: "Understood, this call will not be recorded.",
    ConsentRevoked: CONSENT_REPLIES[ConsentRevoked],
}


def consent_begin(
    gate: CallGate | None, *, record: CallConsentRecord, announcement: str
) -> CallConsent | None:
    """The call's consent state, from the evidence of earlier streams; None without a
    transport gate (no recording to start or stop)."""
    if gate is None:
        return None
    return gate.consent_begin(
        requirement=record.requirement,
        announcement_version=record.announcement_version or announcement_version(announcement),
        earlier=record.evidence,
    )


def raw_transcript_allowed(consent: CallConsent | None) -> bool:
    return consent is not None and consent.raw_transcript_allowed


class ConsentStep:
    def __init__(
        self,
        *,
        gate: CallGate | None,
        consent: CallConsent | None,
        writer: LedgerWriter,
        speaker: Speaker,
    ) -> None:
        self.gate = gate
        self.consent = consent
        self.writer = writer
        self.speaker = speaker
        self.tasks = OwnedTasks()

    @property
    def state(self) -> str | None:
        return str(self.consent.state) if self.consent is not None else None

    def raw_allowed(self) -> bool:
        return raw_transcript_allowed(self.consent)

    def _recorded(self, evidence: list[Evidence]) -> None:
        """Append the evidence, then let the gate start or stop the recording."""
        assert self.gate is not None
        for item in evidence:
            self.writer.append(self.gate.evidence_event(item))
        self.gate.sync()

    async def announced(self, greeting: Speech) -> None:
        """The announcement's last word was heard (its mark came back): the evidence."""
        await greeting.played.wait()
        if self.consent is None or self.gate is None:
            return
        self._recorded(
            self.consent.announcement_played(at=timezone.now(), audio_offset_ms=self.gate.offset_ms)
        )

    def dtmf(self, digit: str, *, turn: int) -> None:
        """A key outside the payment step: an answer to the announcement, perhaps."""
        if self.consent is None or self.gate is None:
            return
        try:
            evidence = self.consent.dtmf(
                digit=digit, at=timezone.now(), audio_offset_ms=self.gate.offset_ms
            )
        except ConsentError:
            return
        if evidence:
            self._recorded(evidence)
            self.tasks.spawn(self._confirm(evidence[-1], turn=turn))

    async def _confirm(
        self,
        evidence: Evidence,
        replies: Mapping[type[Evidence], str] = CONSENT_REPLIES,
        *,
        turn: int,
    ) -> None:
        phrase = replies.get(type(evidence))
        if phrase is None:
            return
        try:
            prompt = await self.speaker.prompt(phrase, turn=turn)
        except INFERENCE_ERRORS:
            return  # the decision is recorded; only the spoken acknowledgement is lost
        await self.speaker.play(prompt, kind="consent", turn=turn)

    async def reply(self, turn: CallerTurn, text: str) -> bool:
        """A reply to the announcement, or a request to stop recording: recorded as
        evidence once the turn is confirmed, and acknowledged. False: not about consent,
        or consent and a request (``carries_request``), which the agent goes on to answer
        (after a brief acknowledgement when recording stopped or will not start: the
        caller must hear that before anything else)."""
        consent = self.consent
        if consent is None or self.gate is None or parse_consent_intent(text) is None:
            return False
        await turn.committed.wait()  # the commit point
        offset = round((turn.ended_s if turn.ended_s is not None else turn.started_s) * 1000)
        evidence = consent.speech(text=text, at=timezone.now(), audio_offset_ms=offset)
        if not evidence:
            return False
        self._recorded(evidence)
        decided = evidence[-1]
        if carries_request(text):
            await self._confirm(decided, CONSENT_NOTES, turn=turn.number)
            return False
        await self._confirm(decided, turn=turn.number)
        turn.outcome.set()
        return True

"""Recording consent: which rule applies to a call, and the per-call consent state machine.

Pure Python (no Django, no ledger): the call path feeds it announcement, speech and DTMF
inputs and appends the evidence records it returns as events. Recording and raw-transcript
storage may run only while `recording_allowed` / `raw_transcript_allowed` hold.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from compliance.consent_intent import Intent, parse_consent_intent
from compliance.us_area_codes import AREA_CODE_STATE

# States whose wiretap laws require every party's consent to record.
ALL_PARTY_STATES = frozenset(
    {"CA", "CT", "DE", "FL", "IL", "MD", "MA", "MT", "NV", "NH", "PA", "WA"}
)
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


class ConsentPolicy(StrEnum):
    ONE_PARTY = "one_party"
    ALL_PARTY = "all_party"
    JURISDICTION = "jurisdiction"
    EXPLICIT = "explicit"  # e.g. EU tenants: a clear affirmative act is always needed


class Requirement(StrEnum):
    IMPLIED = "implied"  # the announcement suffices; the caller may still refuse or revoke
    EXPLICIT = "explicit"  # nothing is recorded until the caller says or presses yes


class Method(StrEnum):
    SPEECH = "speech"
    DTMF = "dtmf"
    IMPLIED = "implied"


@dataclass(frozen=True, slots=True)
class Jurisdiction:
    country: str | None  # "US" only when the area code is a known US geographic one
    state: str | None


@dataclass(frozen=True, slots=True)
class RequirementDecision:
    requirement: Requirement
    jurisdiction: Jurisdiction
    reason: str


def caller_jurisdiction(caller_number: str) -> Jurisdiction:
    """US state from a NANP number's area code; anything else is an unknown jurisdiction.

    Withheld, malformed, non-US and non-geographic numbers all give Jurisdiction(None, None),
    which every policy treats as needing explicit consent.
    """
    number = caller_number.strip() if isinstance(caller_number, str) else ""
    if not _E164.match(number) or not number.startswith("+1") or len(number) != 12:
        return Jurisdiction(country=None, state=None)
    state = AREA_CODE_STATE.get(number[2:5])
    return Jurisdiction(country="US", state=state) if state else Jurisdiction(None, None)


def consent_requirement(
    *, policy: ConsentPolicy | str, caller_number: str, explicit_region: str | None = None
) -> RequirementDecision:
    """Decide whether a call needs explicit consent under the tenant's policy.

    ``explicit_region`` names the tenant's region when its law (the GDPR for ``eu``) needs
    a clear affirmative act whatever the tenant's policy says.
    """
    policy = ConsentPolicy(policy)
    where = caller_jurisdiction(caller_number)
    if explicit_region:
        return RequirementDecision(
            Requirement.EXPLICIT, where, f"{explicit_region} region requires explicit consent"
        )
    if policy is ConsentPolicy.ONE_PARTY:
        return RequirementDecision(Requirement.IMPLIED, where, "tenant policy: one-party")
    if policy in (ConsentPolicy.ALL_PARTY, ConsentPolicy.EXPLICIT):
        return RequirementDecision(Requirement.EXPLICIT, where, f"tenant policy: {policy}")
    if where.state is None:
        return RequirementDecision(
            Requirement.EXPLICIT, where, "caller outside known US jurisdictions"
        )
    if where.state in ALL_PARTY_STATES:
        return RequirementDecision(
            Requirement.EXPLICIT, where, f"{where.state} requires all-party consent"
        )
    return RequirementDecision(
        Requirement.IMPLIED, where, f"{where.state} allows one-party consent"
    )


class ConsentState(StrEnum):
    PENDING = "pending"  # announcement not played yet
    AWAITING = "awaiting"  # announced; explicit answer needed
    GRANTED = "granted"
    IMPLIED = "implied"
    DENIED = "denied"
    REVOKED = "revoked"


@dataclass(frozen=True, slots=True)
class Evidence:
    """Base of the records that become consent events."""

    announcement_version: str
    at: datetime
    audio_offset_ms: int


@dataclass(frozen=True, slots=True)
class AnnouncementPlayed(Evidence):
    requirement: Requirement


@dataclass(frozen=True, slots=True)
class ConsentGiven(Evidence):
    method: Method
    signal: str  # "speech:yes", "dtmf:1", "implied:announcement"


@dataclass(frozen=True, slots=True)
class ConsentDenied(Evidence):
    method: Method
    signal: str


@dataclass(frozen=True, slots=True)
class ConsentRevoked(Evidence):
    method: Method
    signal: str


@dataclass(frozen=True, slots=True)
class DtmfKeys:
    yes: str = "1"
    no: str = "2"
    stop: str = "9"


_ALLOWED = (ConsentState.GRANTED, ConsentState.IMPLIED)


def announcement_text(base: str, requirement: Requirement, keys: DtmfKeys | None = None) -> str:
    """The words played at call start: the tenant-wide notice, then how to answer
    (explicit) or how to opt out (implied)."""
    keys = keys or DtmfKeys()
    if Requirement(requirement) is Requirement.EXPLICIT:
        return (
            f"{base.strip()} Do you agree to this call being recorded? Please say yes or "
            f"press {keys.yes}; say no or press {keys.no}."
        )
    return f"{base.strip()} To stop the recording, say stop recording or press {keys.stop}."


def announcement_version(text: str) -> str:
    """Names the exact wording the caller heard: any change of text is a new version."""
    return "ann-" + hashlib.sha256(text.encode()).hexdigest()[:12]


class ConsentError(ValueError):
    """An input the state machine cannot accept (bad time, offset or digit)."""


@dataclass
class CallConsent:
    """Consent of one call. Commands check input and return the evidence they recorded.

    Refusal and revocation are final for the call: a later "yes" does not restart
    recording, so evidence never shows recording resumed after the caller objected.
    """

    requirement: Requirement
    announcement_version: str
    keys: DtmfKeys = field(default_factory=DtmfKeys)
    state: ConsentState = ConsentState.PENDING
    evidence: list[Evidence] = field(default_factory=list)

    @property
    def recording_allowed(self) -> bool:
        return self.state in _ALLOWED

    @property
    def raw_transcript_allowed(self) -> bool:
        return self.state in _ALLOWED

    def announcement_played(self, *, at: datetime, audio_offset_ms: int) -> list[Evidence]:
        if self.state is not ConsentState.PENDING:
            return []
        played = AnnouncementPlayed(
            self._version(), _check_at(at), _check_offset(audio_offset_ms), self.requirement
        )
        out: list[Evidence] = [played]
        if self.requirement is Requirement.IMPLIED:
            out.append(
                ConsentGiven(
                    self._version(), at, audio_offset_ms, Method.IMPLIED, "implied:announcement"
                )
            )
        return self._trigger(out)

    def speech(self, *, text: str, at: datetime, audio_offset_ms: int) -> list[Evidence]:
        intent = parse_consent_intent(text)
        if intent is None:
            return []
        return self._on_intent(intent, Method.SPEECH, f"speech:{intent}", at, audio_offset_ms)

    def dtmf(self, *, digit: str, at: datetime, audio_offset_ms: int) -> list[Evidence]:
        if not isinstance(digit, str) or len(digit) != 1 or digit not in "0123456789*#ABCD":
            raise ConsentError(f"not a DTMF digit: {digit!r}")
        intent = {self.keys.yes: Intent.YES, self.keys.no: Intent.NO, self.keys.stop: Intent.STOP}
        if digit not in intent:
            return []
        return self._on_intent(intent[digit], Method.DTMF, f"dtmf:{digit}", at, audio_offset_ms)

    def _on_intent(
        self, intent: Intent, method: Method, signal: str, at: datetime, offset: int
    ) -> list[Evidence]:
        at, offset, version = _check_at(at), _check_offset(offset), self._version()
        if self.state is ConsentState.AWAITING:
            if intent is Intent.YES:
                return self._trigger([ConsentGiven(version, at, offset, method, signal)])
            return self._trigger([ConsentDenied(version, at, offset, method, signal)])
        if self.state in _ALLOWED:
            # After consent, a bare "no" usually answers the agent, not the announcement;
            # only a stop request (or the opt-out key) revokes.
            if intent is Intent.STOP or (method is Method.DTMF and intent is Intent.NO):
                return self._trigger([ConsentRevoked(version, at, offset, method, signal)])
            return []
        if self.state is ConsentState.PENDING and intent is Intent.STOP:
            return self._trigger([ConsentDenied(version, at, offset, method, signal)])
        return []

    def _version(self) -> str:
        return self.announcement_version

    def _trigger(self, events: list[Evidence]) -> list[Evidence]:
        for event in events:
            self.apply(event)
        return events

    def apply(self, event: Evidence) -> None:
        """The only place state changes; also used to rebuild state from stored events."""
        if isinstance(event, AnnouncementPlayed):
            if self.state is ConsentState.PENDING:
                self.state = ConsentState.AWAITING
        elif isinstance(event, ConsentGiven):
            implied = event.method is Method.IMPLIED
            self.state = ConsentState.IMPLIED if implied else ConsentState.GRANTED
        elif isinstance(event, ConsentDenied):
            self.state = ConsentState.DENIED
        elif isinstance(event, ConsentRevoked):
            self.state = ConsentState.REVOKED
        self.evidence.append(event)

    @classmethod
    def replay(
        cls, *, requirement: Requirement, announcement_version: str, events: Iterable[Evidence]
    ) -> CallConsent:
        consent = cls(requirement=requirement, announcement_version=announcement_version)
        for event in events:
            consent.apply(event)
        return consent

    def __post_init__(self) -> None:
        self.requirement = Requirement(self.requirement)
        if not self.announcement_version or len(self.announcement_version) > 64:
            raise ConsentError("announcement_version must be 1-64 characters")


def _check_at(at: datetime) -> datetime:
    if not isinstance(at, datetime) or at.tzinfo is None:
        raise ConsentError("evidence time must be a timezone-aware datetime")
    return at


def _check_offset(offset: int) -> int:
    if type(offset) is not int or offset < 0:
        raise ConsentError(f"audio offset must be a non-negative integer of ms, got {offset!r}")
    return offset

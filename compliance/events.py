"""Ledger event types of retention, legal holds, erasure, recordings and policies.

None carries personal data: subjects appear as ``subject_ref`` (a keyed hash), numbers
never. Free-text reasons are the compliance officer's; the console asks for none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from callseal.ledger.registry import register_event


@register_event("recording.started", version=1)
@dataclass(frozen=True, slots=True)
class RecordingStarted:
    recording_id: str
    call_id: str
    kind: str
    tracks: list[dict[str, Any]]
    storage_region: str
    source_id: str | None


@register_event("recording.finished", version=1)
@dataclass(frozen=True, slots=True)
class RecordingFinished:
    recording_id: str
    call_id: str
    duration_ms: int
    size_bytes: int
    sha256: str


@register_event("recording.aborted", version=1)
@dataclass(frozen=True, slots=True)
class RecordingAborted:
    recording_id: str
    call_id: str
    reason: str


@register_event("recording.accessed", version=1)
@dataclass(frozen=True, slots=True)
class RecordingAccessed:
    recording_id: str
    kind: str
    user_id: int
    username: str
    role: str
    reason: str


@register_event("recording.redacted", version=1)
@dataclass(frozen=True, slots=True)
class RecordingRedacted:
    source_id: str
    redacted_id: str
    spans: int
    redacted_ms: int
    transcriber: str


@register_event("retention.shredded", version=1)
@dataclass(frozen=True, slots=True)
class RetentionShredded:
    data_class: str
    retention_days: int
    cutoff: str
    recordings: list[str]
    keys: list[str]
    skipped_on_hold: int


@register_event("legal_hold.placed", version=1)
@dataclass(frozen=True, slots=True)
class LegalHoldPlaced:
    hold_id: str
    scope: str
    call_id: str | None
    subject_ref: str | None
    reason: str
    placed_by: str


@register_event("legal_hold.released", version=1)
@dataclass(frozen=True, slots=True)
class LegalHoldReleased:
    hold_id: str
    reason: str
    released_by: str


@register_event("erasure.completed", version=1)
@dataclass(frozen=True, slots=True)
class ErasureCompleted:
    """Proof of an erasure: which keys and recordings were destroyed, and the
    ``subject.erased`` events (by id) the ledger appended for each key."""

    request_id: str
    subject_ref: str
    keys: list[str]
    subject_erased_event_ids: list[str]
    recordings: list[str]
    requested_by: str


@register_event("erasure.refused", version=1)
@dataclass(frozen=True, slots=True)
class ErasureRefused:
    request_id: str
    subject_ref: str
    hold_ids: list[str]
    requested_by: str


@register_event("compliance.policy_changed", version=1)
@dataclass(frozen=True, slots=True)
class PolicyChanged:
    policy: str
    old: dict[str, Any]
    new: dict[str, Any]
    changed_by: str


# --- consent evidence, on the call's stream (compliance/consent.py decides) -------------
# ``audio_offset_ms`` is the position in the stream's caller audio (Twilio's media
# timeline, which the stream's recording shares); ``stream_index`` names the stream.


@register_event("consent.required", version=1)
@dataclass(frozen=True, slots=True)
class ConsentRequired:
    """What the call needs before anything is recorded, decided when it starts."""

    requirement: str  # "implied" | "explicit"
    policy: str
    country: str | None
    state: str | None
    reason: str


@register_event("consent.announcement_played", version=1)
@dataclass(frozen=True, slots=True)
class ConsentAnnouncementPlayed:
    announcement_version: str
    at: str  # ISO 8601: when the announcement's last word was heard (its mark came back)
    audio_offset_ms: int
    requirement: str
    stream_index: int


@register_event("consent.given", version=1)
@dataclass(frozen=True, slots=True)
class ConsentGivenEvent:
    announcement_version: str
    at: str
    audio_offset_ms: int
    method: str  # "speech" | "dtmf" | "implied"
    signal: str  # "speech:yes", "dtmf:1", "implied:announcement"
    stream_index: int


@register_event("consent.denied", version=1)
@dataclass(frozen=True, slots=True)
class ConsentDeniedEvent:
    announcement_version: str
    at: str
    audio_offset_ms: int
    method: str
    signal: str
    stream_index: int


@register_event("consent.revoked", version=1)
@dataclass(frozen=True, slots=True)
class ConsentRevokedEvent:
    announcement_version: str
    at: str
    audio_offset_ms: int
    method: str
    signal: str
    stream_index: int


# --- PCI pause (compliance/pci.py): no digits, no digit counts ---------------------------


@register_event("payment.paused", version=1)
@dataclass(frozen=True, slots=True)
class PaymentPausedEvent:
    step_id: str
    at: str
    audio_offset_ms: int
    stream_index: int


@register_event("payment.resumed", version=1)
@dataclass(frozen=True, slots=True)
class PaymentResumedEvent:
    step_id: str
    at: str
    audio_offset_ms: int
    outcome: str  # "completed" | "cancelled" | "timed_out" | "hung_up"
    result: str  # the processor's answer: "approved" or "declined:<reason>"; "" if none
    stream_index: int

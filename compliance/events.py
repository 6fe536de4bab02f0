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

"""Ledger event types of a call. One stream per call: ``call-<call id>`` (``call_stream``).

Personal data: the caller's number and what the agent said (which may repeat what the
caller told it) are sealed under the caller's subject key. DTMF digits are never stored
(they may be card numbers); only their count is.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from callseal.ledger.registry import Personal, register_event

# Streams that are not one call's.
SECURITY_STREAM = "security-media-streams"


def call_stream(call_id: uuid.UUID | str) -> str:
    return f"call-{call_id}"


def rejected_stream(call_sid: str) -> str:
    return f"call-rejected-{call_sid}"


@register_event("call.started", version=1)
@dataclass(frozen=True, slots=True)
class CallStarted:
    call_id: str
    twilio_call_sid: str
    to_number: str  # the business's number: not personal data
    from_number: Personal[str | None]
    from_masked: str
    phone_number_id: str
    agent_id: str | None
    region: str
    started_at: str  # ISO 8601, UTC


@register_event("call.rejected", version=1)
@dataclass(frozen=True, slots=True)
class CallRejected:
    """A signed call to a number of the tenant's Twilio account that no tenant routes."""

    twilio_call_sid: str
    account_sid: str
    to_number: str
    reason: str


@register_event("stream.connected", version=1)
@dataclass(frozen=True, slots=True)
class StreamConnected:
    call_id: str
    twilio_call_sid: str
    stream_index: int  # 1 for the first stream; more after each <Redirect>
    stream_sid: str


@register_event("call.resumed", version=1)
@dataclass(frozen=True, slots=True)
class CallResumed:
    """A new media stream continues the call after the previous one dropped."""

    call_id: str
    stream_index: int
    # False when the previous stream's worker died before it could record stream.ended.
    previous_stream_ended: bool


@register_event("security.stream_refused", version=1)
@dataclass(frozen=True, slots=True)
class StreamRefusedEvent:
    reason: str
    twilio_call_sid: str  # as claimed by the refused stream (truncated, unverified)


@register_event("turn.interrupted", version=1)
@dataclass(frozen=True, slots=True)
class TurnInterrupted:
    call_id: str
    stream_index: int
    heard_chunk_ids: list[int]  # chunks whose marks Twilio echoed before the clear
    heard_text: Personal[str]
    partial_chunk_id: int | None
    partial_heard_ms: int  # estimated from the playback clock, not confirmed by a mark
    discarded_ms: int


@register_event("stream.ended", version=1)
@dataclass(frozen=True, slots=True)
class StreamEnded:
    call_id: str
    stream_index: int
    reason: str  # stop, disconnected, flood, hang_up (the pipeline ended the call), pipeline_error
    frames_in: int
    frames_out: int
    lost_frames: int
    silence_ms: int
    malformed: dict[str, Any]
    pipeline_overflow: int
    dtmf_count: int
    marks_sent: int
    marks_heard: int
    heard_chunk_ids: list[int]
    pipeline_state: dict[str, Any]  # CallPipeline.snapshot(): what resume() restores


@register_event("call.status_changed", version=1)
@dataclass(frozen=True, slots=True)
class CallStatusChanged:
    call_id: str
    twilio_status: str
    status: str
    sequence: int  # Twilio's SequenceNumber


@register_event("call.ended", version=1)
@dataclass(frozen=True, slots=True)
class CallEnded:
    call_id: str
    status: str
    ended_at: str  # ISO 8601, UTC


def phone_number_stream(phone_number_id: uuid.UUID | str) -> str:
    return f"phone-number-{phone_number_id}"


@register_event("phone_number.added", version=1)
@dataclass(frozen=True, slots=True)
class PhoneNumberAdded:
    phone_number_id: str
    e164: str  # the business's number: not personal data
    label: str
    account_sid: str
    agent_id: str | None


@register_event("phone_number.updated", version=1)
@dataclass(frozen=True, slots=True)
class PhoneNumberUpdated:
    phone_number_id: str
    e164: str
    changes: dict[str, Any]  # field -> [before, after]; never credentials


@register_event("phone_number.credentials_changed", version=1)
@dataclass(frozen=True, slots=True)
class PhoneNumberCredentialsChanged:
    """New Twilio credentials for a number, verified with Twilio's REST API before they were
    saved (the account exists, the token opens it, the number is in it). Never the token."""

    phone_number_id: str
    e164: str
    account_sid: str
    previous_account_sid: str


@register_event("phone_number.removed", version=1)
@dataclass(frozen=True, slots=True)
class PhoneNumberRemoved:
    phone_number_id: str
    e164: str
    account_sid: str

"""Call lifecycle writes. One function per lifecycle step; each is where its ledger event
will be appended (marked ``LEDGER:``) once the ledger lands, in the same transaction as the
read-model update it already makes.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from calls import credentials, selectors
from calls.models import (
    ACCOUNT_SID,
    TERMINAL_STATUSES,
    Call,
    CallStatus,
    PhoneNumber,
    StreamToken,
)
from calls.player import CutOff, HeardChunk
from calls.signatures import signature_valid
from callseal.tenancy.context import TenantRef, as_ref, tenant_context
from callseal.tenancy.router import region_alias

log = logging.getLogger(__name__)

# Twilio's CallStatus values → the read model's.
TWILIO_STATUS = {
    "queued": CallStatus.RINGING,
    "initiated": CallStatus.RINGING,
    "ringing": CallStatus.RINGING,
    "in-progress": CallStatus.IN_PROGRESS,
    "completed": CallStatus.COMPLETED,
    "busy": CallStatus.BUSY,
    "no-answer": CallStatus.NO_ANSWER,
    "canceled": CallStatus.CANCELED,
    "failed": CallStatus.FAILED,
}


class StreamRefused(Exception):
    def __init__(self, reason: str, *, tenant: TenantRef | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.tenant = tenant


class CallNotResumable(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Answer:
    call_id: uuid.UUID
    token: str
    resumed: bool


@dataclass(frozen=True, slots=True)
class StreamGrant:
    """What an authorised media stream may do: stream ``stream_index`` of one call."""

    tenant: TenantRef
    call_id: uuid.UUID
    call_sid: str
    phone_number_id: uuid.UUID
    agent_id: uuid.UUID | None
    stream_index: int

    @property
    def resumed(self) -> bool:
        return self.stream_index > 1


@dataclass
class StreamStats:
    frames_in: int = 0
    lost_frames: int = 0
    silence_ms: int = 0
    dtmf: list[str] = field(default_factory=list)
    malformed: dict[str, int] = field(default_factory=dict)
    pipeline_overflow: int = 0
    frames_out: int = 0
    marks_sent: int = 0
    marks_heard: int = 0
    heard: list[HeardChunk] = field(default_factory=list)


def mask_number(number: str) -> str:
    """Keep the last two digits only; the full number is personal data."""
    tail = number[-2:] if len(number) >= 4 else ""
    return ("*" * max(0, min(len(number), 16) - len(tail)) + tail)[:16]


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _atomic(tenant: TenantRef) -> Any:
    return transaction.atomic(using=region_alias(tenant.region))


# --- phone numbers (directory) -------------------------------------------------------
def phone_number_configure(
    *,
    phone_number: PhoneNumber,
    account_sid: str,
    auth_token: str,
    agent_id: uuid.UUID | None = None,
) -> PhoneNumber:
    """Attach a Twilio account to a number; the auth token is sealed at rest. Every number
    of the account is re-sealed with the token, since Twilio signs with one per account."""
    ACCOUNT_SID(account_sid)
    if not (16 <= len(auth_token) <= 128) or not auth_token.isascii():
        raise ValueError("auth token: 16 to 128 ASCII characters")
    with transaction.atomic(using="default"):
        for number in PhoneNumber.objects.select_for_update().filter(
            twilio_account_sid=account_sid
        ):
            number.twilio_auth_token_sealed = credentials.seal_auth_token(
                auth_token=auth_token, account_sid=account_sid
            )
            number.save(update_fields=["twilio_auth_token_sealed"])
        phone_number.twilio_account_sid = account_sid
        phone_number.twilio_auth_token_sealed = credentials.seal_auth_token(
            auth_token=auth_token, account_sid=account_sid
        )
        phone_number.agent_id = agent_id
        phone_number.save(
            update_fields=["twilio_account_sid", "twilio_auth_token_sealed", "agent_id"]
        )
    return phone_number


def phone_number_auth_token(phone_number: PhoneNumber) -> str:
    return credentials.open_auth_token(
        sealed=phone_number.twilio_auth_token_sealed, account_sid=phone_number.twilio_account_sid
    )


# --- answering -----------------------------------------------------------------------
def stream_token_issue(*, tenant: TenantRef, phone_number_id: uuid.UUID, call_sid: str) -> str:
    """A one-time token for the next media stream of ``call_sid``; only its hash is kept.
    The phone number id in front routes the stream to the tenant before anything else."""
    secret = secrets.token_urlsafe(32)
    now = timezone.now()
    StreamToken.objects.create(
        tenant_id=tenant.id,
        call_sid=call_sid,
        phone_number_id=phone_number_id,
        token_hash=_hash(secret),
        issued_at=now,
        expires_at=now + timedelta(seconds=settings.CALLSEAL_STREAM_TOKEN_TTL_S),
    )
    return f"{phone_number_id.hex}.{secret}"


def call_answer(*, phone_number: PhoneNumber, call_sid: str, from_number: str) -> Answer:
    """Answer Twilio's voice webhook: start the call, or resume it when Twilio followed our
    ``<Redirect>`` after its stream dropped. Retried webhooks land on the resume path."""
    tenant = as_ref(phone_number.tenant)
    with tenant_context(tenant):
        if selectors.call_get_by_sid(call_sid=call_sid) is None:
            try:
                return call_start(
                    tenant=tenant,
                    phone_number=phone_number,
                    call_sid=call_sid,
                    from_number=from_number,
                )
            except IntegrityError:
                pass  # a concurrent retry of the same webhook created it first
        return call_resume(tenant=tenant, phone_number=phone_number, call_sid=call_sid)


def call_start(
    *, tenant: TenantRef, phone_number: PhoneNumber, call_sid: str, from_number: str
) -> Answer:
    """Create the call and its first stream token.

    LEDGER: append ``call.started`` (tenant, call id, CallSid, to number, agent id; the
    caller's number as personal data of the caller).
    """
    with tenant_context(tenant), _atomic(tenant):
        call = Call.objects.create(
            tenant_id=tenant.id,
            twilio_call_sid=call_sid,
            to_number=phone_number.e164,
            from_masked=mask_number(from_number),
            region=tenant.region,
            started_at=timezone.now(),
            phone_number_id=phone_number.id,
            agent_id=phone_number.agent_id,
        )
        token = stream_token_issue(
            tenant=tenant, phone_number_id=phone_number.id, call_sid=call_sid
        )
    return Answer(call_id=call.id, token=token, resumed=False)


def call_resume(*, tenant: TenantRef, phone_number: PhoneNumber, call_sid: str) -> Answer:
    """Issue a fresh stream token for a call whose stream ended without the call ending.

    Refuses (CallNotResumable) an ended call and one that has used up its resumptions, so
    that a stream failing at once cannot loop through ``<Redirect>`` forever.
    LEDGER: nothing here; ``call.resumed`` is appended by ``stream_authorise`` when the new
    stream is actually connected.
    """
    with tenant_context(tenant), _atomic(tenant):
        call = Call.objects.select_for_update().get(tenant_id=tenant.id, twilio_call_sid=call_sid)
        if call.status in TERMINAL_STATUSES:
            raise CallNotResumable("ended")
        issued = StreamToken.objects.filter(tenant_id=tenant.id, call_sid=call_sid).count()
        if issued > settings.CALLSEAL_MAX_STREAMS_PER_CALL:
            raise CallNotResumable("too_many_streams")
        token = stream_token_issue(
            tenant=tenant, phone_number_id=phone_number.id, call_sid=call_sid
        )
    return Answer(call_id=call.id, token=token, resumed=True)


def call_reject_unknown_number(*, account_sid: str, call_sid: str, to_number: str) -> None:
    """A signed call to a number no tenant owns (released, or misrouted).

    LEDGER: append ``call.rejected`` (reason ``unknown_number``) to the operator's audit
    stream: there is no tenant to own it.
    """
    log.warning(
        "call to an unknown number refused",
        extra={"account_sid": account_sid, "call_sid": call_sid, "to_tail": to_number[-4:]},
    )


# --- media streams -------------------------------------------------------------------
def _parse_token(token: str) -> tuple[uuid.UUID, str]:
    number_hex, dot, secret = token.partition(".")
    if not dot or not secret or len(token) > 128:
        raise StreamRefused("malformed_token")
    try:
        return uuid.UUID(hex=number_hex), secret
    except ValueError:
        raise StreamRefused("malformed_token") from None


def stream_authorise(
    *,
    token: str,
    call_sid: str,
    account_sid: str,
    url: str,
    signature: str,
    signature_settings: str = "",
) -> StreamGrant:
    """Check a media stream's handshake signature and its one-time token; burn the token.

    Raises StreamRefused(reason) for: unsigned, malformed_token, unknown_token,
    account_mismatch, bad_signature, token_replayed, token_expired, wrong_call_sid.
    LEDGER: on success append ``stream.connected``, and ``call.resumed`` when
    ``grant.resumed``; refusals go through ``stream_refused``.
    """
    if not signature:
        raise StreamRefused("unsigned")
    if not token:
        raise StreamRefused("missing_token")
    number_id, secret = _parse_token(token)
    number = selectors.phone_number_by_id(phone_number_id=number_id)
    if number is None or not number.twilio_auth_token_sealed:
        raise StreamRefused("unknown_token")
    tenant = as_ref(number.tenant)
    if number.twilio_account_sid != account_sid:
        raise StreamRefused("account_mismatch", tenant=tenant)
    if not signature_valid(
        auth_token=phone_number_auth_token(number),
        url=url,
        params=None,
        signature=signature,
        settings_header=signature_settings,
    ):
        raise StreamRefused("bad_signature", tenant=tenant)
    now = timezone.now()
    refusal = None
    with tenant_context(tenant), _atomic(tenant):
        row = (
            StreamToken.objects.select_for_update()
            .filter(tenant_id=tenant.id, token_hash=_hash(secret))
            .first()
        )
        if row is None:
            refusal = "unknown_token"
        elif row.used_at is not None:
            refusal = "token_replayed"
        else:
            # Burned whatever follows: a token shown to the wrong call is compromised.
            row.used_at = now
            row.save(update_fields=["used_at"])
            if row.expires_at <= now:
                refusal = "token_expired"
            elif row.call_sid != call_sid:
                refusal = "wrong_call_sid"
        if refusal is None:
            call = Call.objects.select_for_update().get(
                tenant_id=tenant.id, twilio_call_sid=call_sid
            )
            if call.status in TERMINAL_STATUSES:
                refusal = "call_ended"
            else:
                call.stream_count += 1
                call.status = CallStatus.IN_PROGRESS
                call.save(update_fields=["stream_count", "status"])
    if refusal is not None:
        raise StreamRefused(refusal, tenant=tenant)
    return StreamGrant(
        tenant=tenant,
        call_id=call.id,
        call_sid=call_sid,
        phone_number_id=number.id,
        agent_id=call.agent_id,
        stream_index=call.stream_count,
    )


def stream_refused(*, reason: str, tenant: TenantRef | None, call_sid: str) -> None:
    """A media stream was refused (closed with 1008).

    LEDGER: append ``security.stream_refused`` (reason, CallSid) to the tenant's stream when
    known, else to the operator's audit stream.
    """
    log.warning(
        "media stream refused",
        extra={"reason": reason, "call_sid": call_sid[:34], "tenant": tenant and tenant.slug},
    )


def playback_interrupted(*, grant: StreamGrant, cutoff: CutOff) -> None:
    """The caller barged in: what they heard ends at ``cutoff``.

    LEDGER: append ``turn.interrupted`` (heard chunk ids and text from echoed marks, the
    partial chunk and its estimated heard milliseconds, discarded milliseconds).
    """
    log.info(
        "playback interrupted",
        extra={"call_sid": grant.call_sid, "heard_chunks": len(cutoff.heard)},
    )


def stream_finalise(*, grant: StreamGrant, reason: str, stats: StreamStats) -> None:
    """One media stream ended (stop, disconnect, flood). Called exactly once per stream.

    LEDGER: append ``stream.ended`` (reason, frame, loss and malformed counters, what was
    heard by marks). A disconnect without ``stop`` leaves the call open for resumption.
    """
    log.info(
        "media stream ended",
        extra={
            "call_sid": grant.call_sid,
            "reason": reason,
            "frames_in": stats.frames_in,
            "lost_frames": stats.lost_frames,
            "malformed": sum(stats.malformed.values()),
        },
    )


def call_finalise(
    *, tenant: TenantRef, call_sid: str, status: str, ended_at: datetime | None = None
) -> bool:
    """End the call once: True for the transition, False when it had already ended.

    LEDGER: append ``call.ended`` (status, ended at) when this returns True.
    """
    if status not in TERMINAL_STATUSES:
        raise ValueError(f"{status!r} is not a terminal call status")
    with tenant_context(tenant), _atomic(tenant):
        call = (
            Call.objects.select_for_update()
            .filter(tenant_id=tenant.id, twilio_call_sid=call_sid)
            .first()
        )
        if call is None or call.status in TERMINAL_STATUSES:
            return False
        call.status = status
        call.ended_at = ended_at or timezone.now()
        call.save(update_fields=["status", "ended_at"])
    return True


def call_status_record(
    *, phone_number: PhoneNumber, call_sid: str, twilio_status: str, sequence: int
) -> str:
    """Apply a status callback. Idempotent: Twilio retries and may reorder callbacks, so a
    callback whose SequenceNumber is not above the last applied one changes nothing.

    Returns ``applied``, ``duplicate`` or ``unknown_call``.
    LEDGER: append ``call.status_changed`` when applied (``call.ended`` via call_finalise).
    """
    status = TWILIO_STATUS[twilio_status]
    tenant = as_ref(phone_number.tenant)
    with tenant_context(tenant), _atomic(tenant):
        call = (
            Call.objects.select_for_update()
            .filter(tenant_id=tenant.id, twilio_call_sid=call_sid)
            .first()
        )
        if call is None:
            return "unknown_call"
        if sequence <= call.status_sequence:
            return "duplicate"
        call.status_sequence = sequence
        fields = ["status_sequence"]
        if status not in TERMINAL_STATUSES and call.status not in TERMINAL_STATUSES:
            call.status = status
            fields.append("status")
        call.save(update_fields=fields)
    if status in TERMINAL_STATUSES:
        call_finalise(tenant=tenant, call_sid=call_sid, status=status)
    return "applied"

"""Call lifecycle writes. One function per lifecycle step; each records its ledger events
(calls/events.py) through the ledger's write envelope, which applies the inline projections
(the Call read model, calls/projections.py; the dashboards, analytics) in the same
transaction, so a read model never shows what the ledger does not hold.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError
from django.utils import timezone

from calls import credentials, selectors
from calls import events as ev
from calls.accounts import twilio_account_bind
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
from callseal.crypto.services import subject_ref_for
from callseal.ledger.envelope import record, regional_write
from callseal.ledger.events import RecordedEvent
from callseal.ledger.selectors import ledger_read_stream
from callseal.tenancy.context import TenantRef, as_ref, tenant_context
from callseal.tenancy.services import tenant_policies_validate
from compliance.consent import consent_requirement
from compliance.events import ConsentRequired

log = logging.getLogger(__name__)
ACTOR_TWILIO = "twilio"
ACTOR_MEDIA = "calls.media"
# Deterministic event ids make webhook retries and racing finalisers idempotent in the
# ledger itself: a second append with the same id returns the stored event.
_EVENT_NS = uuid.UUID("5b1c0d9e-8f43-4c35-9a51-2f3d0b6c7e11")


def _event_id(*parts: object) -> uuid.UUID:
    return uuid.uuid5(_EVENT_NS, "|".join(str(p) for p in parts))


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
    """What the voice webhook's TwiML carries: the stream's one-time token (a
    ``<Parameter>``), its URL path nonce, and the one-time secret of the ``<Redirect>``."""

    call_id: uuid.UUID
    token: str
    resumed: bool
    path_nonce: str = ""
    redirect_secret: str = ""


# Voice webhook refusals that are someone else's doing (a replayed or forged request),
# recorded as security events; the others (an ended call) are ordinary.
REPLAY_REASONS = frozenset({"already_answered", "redirect_unknown", "redirect_replayed"})


@dataclass(frozen=True, slots=True)
class StreamGrant:
    """What an authorised media stream may do: stream ``stream_index`` of one call."""

    tenant: TenantRef
    call_id: uuid.UUID
    call_sid: str
    phone_number_id: uuid.UUID
    agent_id: uuid.UUID | None
    stream_index: int
    subject_ref: str = ""

    @property
    def resumed(self) -> bool:
        return self.stream_index > 1


@dataclass
class StreamStats:
    frames_in: int = 0
    lost_frames: int = 0
    silence_ms: int = 0
    dtmf_count: int = 0  # keys outside payment steps (those are never counted)
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


def _iso(moment: datetime) -> str:
    return moment.isoformat()


# --- phone numbers (directory) -------------------------------------------------------
def phone_number_configure(
    *,
    phone_number: PhoneNumber,
    account_sid: str,
    auth_token: str,
    agent_id: uuid.UUID | None = None,
) -> PhoneNumber:
    """Attach a Twilio account to a number (seed data, tests, benchmarks: the console goes
    through calls.numbers, which also proves the credentials with Twilio and records the
    change). The account must be the number's tenant's or nobody's yet; the auth token is
    sealed at rest on this number only."""
    ACCOUNT_SID(account_sid)
    if not (16 <= len(auth_token) <= 128) or not auth_token.isascii():
        raise ValueError("auth token: 16 to 128 ASCII characters")
    twilio_account_bind(tenant_id=phone_number.tenant_id, account_sid=account_sid)
    phone_number.twilio_account_sid = account_sid
    phone_number.twilio_auth_token_sealed = credentials.seal_auth_token(
        auth_token=auth_token, account_sid=account_sid
    )
    phone_number.agent_id = agent_id
    phone_number.save(update_fields=["twilio_account_sid", "twilio_auth_token_sealed", "agent_id"])
    return phone_number


def phone_number_auth_token(phone_number: PhoneNumber) -> str:
    return credentials.open_auth_token(
        sealed=phone_number.twilio_auth_token_sealed, account_sid=phone_number.twilio_account_sid
    )


# --- answering -----------------------------------------------------------------------
def stream_token_issue(
    *, tenant: TenantRef, phone_number_id: uuid.UUID, call_sid: str, stream_index: int = 1
) -> Answer:
    """A one-time token for stream ``stream_index`` of ``call_sid`` (only its hash is kept),
    the stream URL's path nonce, and the secret of the ``<Redirect>`` that may ask for the
    next stream once. The phone number id in front of the token routes the stream to the
    tenant before anything else."""
    secret = secrets.token_urlsafe(32)
    redirect_secret = secrets.token_urlsafe(24)
    path_nonce = secrets.token_hex(16)
    now = timezone.now()
    StreamToken.objects.create(
        tenant_id=tenant.id,
        call_sid=call_sid,
        phone_number_id=phone_number_id,
        token_hash=_hash(secret),
        issued_at=now,
        expires_at=now + timedelta(seconds=settings.CALLSEAL_STREAM_TOKEN_TTL_S),
        stream_index=stream_index,
        path_nonce=path_nonce,
        redirect_hash=_hash(redirect_secret),
    )
    return Answer(
        call_id=uuid.UUID(int=0),
        token=f"{phone_number_id.hex}.{secret}",
        resumed=stream_index > 1,
        path_nonce=path_nonce,
        redirect_secret=redirect_secret,
    )


def call_answer(
    *, phone_number: PhoneNumber, call_sid: str, from_number: str, redirect_secret: str = ""
) -> Answer:
    """Answer Twilio's voice webhook: start the call, or resume it when Twilio followed our
    ``<Redirect>`` (whose URL carries ``redirect_secret``) after its stream ended.

    A second answer for a live call without that secret is refused (CallNotResumable
    ``already_answered``): it is a replay of the captured first webhook, and a fresh token
    would let a second stream join the call. Such refusals are security events.
    """
    tenant = as_ref(phone_number.tenant)
    try:
        with tenant_context(tenant):
            if selectors.call_get_by_sid(call_sid=call_sid) is None and not redirect_secret:
                try:
                    return call_start(
                        tenant=tenant,
                        phone_number=phone_number,
                        call_sid=call_sid,
                        from_number=from_number,
                    )
                except IntegrityError:
                    raise CallNotResumable("already_answered") from None
            return call_resume(
                tenant=tenant,
                phone_number=phone_number,
                call_sid=call_sid,
                redirect_secret=redirect_secret,
            )
    except CallNotResumable as exc:
        if exc.reason in REPLAY_REASONS:
            stream_refused(reason=exc.reason, tenant=tenant, call_sid=call_sid)
        raise


def call_start(
    *, tenant: TenantRef, phone_number: PhoneNumber, call_sid: str, from_number: str
) -> Answer:
    """Create the call (``call.started``, the caller's number sealed as their personal data)
    and its first stream token."""
    call_id = uuid.uuid4()
    with regional_write(tenant):
        subject = subject_ref_for(from_number) if from_number else ""
        record(
            stream_id=ev.call_stream(call_id),
            events=[
                ev.CallStarted(
                    call_id=str(call_id),
                    twilio_call_sid=call_sid,
                    to_number=phone_number.e164,
                    from_number=from_number or None,
                    from_masked=mask_number(from_number),
                    phone_number_id=str(phone_number.id),
                    agent_id=str(phone_number.agent_id) if phone_number.agent_id else None,
                    region=tenant.region,
                    started_at=_iso(timezone.now()),
                )
            ],
            actor=ACTOR_TWILIO,
            subject=subject,
        )
        record(
            stream_id=ev.call_stream(call_id),
            events=[consent_required(phone_number=phone_number, from_number=from_number)],
            actor=ACTOR_TWILIO,
        )
        issued = stream_token_issue(
            tenant=tenant, phone_number_id=phone_number.id, call_sid=call_sid
        )
    return replace(issued, call_id=call_id)


def consent_required(*, phone_number: PhoneNumber, from_number: str) -> ConsentRequired:
    """What this caller must agree to before recording starts: the tenant's consent policy
    applied to the caller's jurisdiction (from the number, which is not stored here)."""
    tenant = phone_number.tenant
    policies = tenant_policies_validate(dict(tenant.policies or {}), region=tenant.region)
    strict = tenant.region if tenant.region in settings.CALLSEAL_EXPLICIT_CONSENT_REGIONS else None
    decision = consent_requirement(
        policy=policies["consent_mode"], caller_number=from_number, explicit_region=strict
    )
    return ConsentRequired(
        requirement=str(decision.requirement),
        policy=policies["consent_mode"],
        country=decision.jurisdiction.country,
        state=decision.jurisdiction.state,
        reason=decision.reason,
    )


def call_resume(
    *, tenant: TenantRef, phone_number: PhoneNumber, call_sid: str, redirect_secret: str
) -> Answer:
    """Issue the next stream's token when Twilio follows the ``<Redirect>`` of the previous
    TwiML (Twilio does that only once that stream has ended). Each redirect secret works
    once, so neither a replayed first webhook nor a replayed redirect gets a token.

    Refuses (CallNotResumable): ``already_answered`` (no secret), ``redirect_unknown``,
    ``redirect_replayed``, an ended call (``completed``: it ended normally, e.g. the agent
    said goodbye; ``ended``: otherwise) and ``too_many_streams``, so that a stream failing
    at once cannot loop through ``<Redirect>`` forever.
    LEDGER: nothing here; ``call.resumed`` is appended by ``stream_authorise`` when the new
    stream is actually connected.
    """
    if not redirect_secret:
        raise CallNotResumable("already_answered")
    with regional_write(tenant):
        call = (
            Call.objects.select_for_update()
            .filter(tenant_id=tenant.id, twilio_call_sid=call_sid)
            .first()
        )
        previous = (
            StreamToken.objects.select_for_update()
            .filter(tenant_id=tenant.id, call_sid=call_sid, redirect_hash=_hash(redirect_secret))
            .first()
        )
        if call is None or previous is None:
            raise CallNotResumable("redirect_unknown")
        if call.status in TERMINAL_STATUSES:
            raise CallNotResumable("completed" if call.status == CallStatus.COMPLETED else "ended")
        if previous.redirect_used_at is not None:
            raise CallNotResumable("redirect_replayed")
        if previous.stream_index >= settings.CALLSEAL_MAX_STREAMS_PER_CALL:
            raise CallNotResumable("too_many_streams")
        previous.redirect_used_at = timezone.now()
        previous.save(update_fields=["redirect_used_at"])
        issued = stream_token_issue(
            tenant=tenant,
            phone_number_id=phone_number.id,
            call_sid=call_sid,
            stream_index=previous.stream_index + 1,
        )
    return replace(issued, call_id=call.id)


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
    stream_sid: str = "",
    path_nonce: str = "",
) -> StreamGrant:
    """Check a media stream's handshake signature, the nonce of its URL path and its
    one-time token; burn the token; record ``stream.connected`` (preceded by
    ``call.resumed`` for every stream after the first).

    Raises StreamRefused(reason) for: unsigned, malformed_token, unknown_token,
    account_mismatch, bad_signature, token_replayed, token_expired, wrong_call_sid,
    wrong_stream_url (the path nonce is not the token's), concurrent_stream (a stream of
    this index already connected: a second stream for a live call), call_ended. Refusals
    are recorded by ``stream_refused``.
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
    with regional_write(tenant):
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
            elif not row.path_nonce or not hmac.compare_digest(row.path_nonce, path_nonce):
                refusal = "wrong_stream_url"
        if refusal is None:
            assert row is not None
            call = Call.objects.select_for_update().get(
                tenant_id=tenant.id, twilio_call_sid=call_sid
            )
            if call.status in TERMINAL_STATUSES:
                refusal = "call_ended"
            elif call.stream_count >= row.stream_index:
                refusal = "concurrent_stream"
            else:
                index = call.stream_count + 1
                connected = ev.StreamConnected(
                    call_id=str(call.id),
                    twilio_call_sid=call_sid,
                    stream_index=index,
                    stream_sid=stream_sid[:64],
                )
                events: list[object] = [connected]
                if index > 1:
                    ended = _stream_ended_indexes(call.id)
                    resumed = ev.CallResumed(
                        call_id=str(call.id),
                        stream_index=index,
                        previous_stream_ended=(index - 1) in ended,
                    )
                    events = [resumed, connected]
                record(stream_id=ev.call_stream(call.id), events=events, actor=ACTOR_MEDIA)
                call.refresh_from_db()
    if refusal is not None:
        raise StreamRefused(refusal, tenant=tenant)
    return StreamGrant(
        tenant=tenant,
        call_id=call.id,
        call_sid=call_sid,
        phone_number_id=number.id,
        agent_id=call.agent_id,
        stream_index=call.stream_count,
        subject_ref=call.subject_ref,
    )


def stream_signature_valid(
    *, phone_number_id: uuid.UUID, url: str, signature: str, signature_settings: str = ""
) -> bool:
    """Whether a media handshake is signed with this number's token."""
    number = selectors.phone_number_by_id(phone_number_id=phone_number_id)
    if number is None or not number.twilio_auth_token_sealed:
        return False
    return signature_valid(
        auth_token=phone_number_auth_token(number),
        url=url,
        params=None,
        signature=signature,
        settings_header=signature_settings,
    )


def _stream_ended_indexes(call_id: uuid.UUID) -> set[int]:
    return {
        e.data["stream_index"] for e in call_events(call_id=call_id) if e.type == "stream.ended"
    }


def call_events(*, call_id: uuid.UUID) -> list[RecordedEvent]:
    """Every event of the call so far, in order (the tenant comes from the context)."""
    stream_id = ev.call_stream(call_id)
    out: list[RecordedEvent] = []
    while True:
        page = ledger_read_stream(stream_id=stream_id, after_version=len(out), limit=1000)
        out.extend(page)
        if len(page) < 1000:
            return out


def call_events_for(*, grant: StreamGrant) -> list[RecordedEvent]:
    """What a resumed stream's pipeline rebuilds its state from."""
    with tenant_context(grant.tenant):
        return call_events(call_id=grant.call_id)


def stream_refused(*, reason: str, tenant: TenantRef | None, call_sid: str) -> None:
    """A media stream (or the voice webhook's token for one) was refused:
    ``security.stream_refused`` in the tenant's ledger when the request named a tenant. One
    that names no tenant (unsigned, malformed, unknown) has no ledger to go to: the
    caller's one warning line is the operator's record of it."""
    if tenant is None:
        return
    with regional_write(tenant):
        record(
            stream_id=ev.SECURITY_STREAM,
            events=[ev.StreamRefusedEvent(reason=reason, twilio_call_sid=call_sid[:34])],
            actor=ACTOR_MEDIA,
        )


def playback_interrupted(*, grant: StreamGrant, cutoff: CutOff) -> None:
    """The caller barged in: ``turn.interrupted`` records what they heard, by echoed marks
    (the agent's words are sealed under the caller's key: they may repeat the caller)."""
    heard = cutoff.heard
    with regional_write(grant.tenant):
        record(
            stream_id=ev.call_stream(grant.call_id),
            events=[
                ev.TurnInterrupted(
                    call_id=str(grant.call_id),
                    stream_index=grant.stream_index,
                    heard_chunk_ids=[c.id for c in heard],
                    heard_text=" ".join(c.text for c in heard if c.text),
                    partial_chunk_id=cutoff.partial_chunk_id,
                    partial_heard_ms=cutoff.partial_heard_ms,
                    discarded_ms=cutoff.discarded_ms,
                )
            ],
            actor=ACTOR_MEDIA,
            subject=grant.subject_ref,
        )


def stream_finalise(
    *, grant: StreamGrant, reason: str, stats: StreamStats, pipeline_state: dict[str, Any]
) -> None:
    """One media stream ended (stop, disconnect, flood): ``stream.ended`` with its counters,
    the chunk ids heard by marks and the pipeline's snapshot. The event id derives from the
    stream, so however the end is reached twice, one event is recorded. A disconnect
    without ``stop`` leaves the call open for resumption."""
    with regional_write(grant.tenant):
        record(
            stream_id=ev.call_stream(grant.call_id),
            events=[
                ev.StreamEnded(
                    call_id=str(grant.call_id),
                    stream_index=grant.stream_index,
                    reason=reason,
                    frames_in=stats.frames_in,
                    frames_out=stats.frames_out,
                    lost_frames=stats.lost_frames,
                    silence_ms=stats.silence_ms,
                    malformed=dict(stats.malformed),
                    pipeline_overflow=stats.pipeline_overflow,
                    dtmf_count=stats.dtmf_count,
                    marks_sent=stats.marks_sent,
                    marks_heard=stats.marks_heard,
                    heard_chunk_ids=[c.id for c in stats.heard],
                    pipeline_state=pipeline_state,
                )
            ],
            actor=ACTOR_MEDIA,
            event_ids=[_event_id(grant.call_id, "stream", grant.stream_index, "ended")],
        )


def call_finalise(
    *, tenant: TenantRef, call_sid: str, status: str, ended_at: datetime | None = None
) -> bool:
    """End the call once (``call.ended``): True for the transition, False when it had
    already ended. The row lock orders concurrent finalisers (stop, status callback)."""
    if status not in TERMINAL_STATUSES:
        raise ValueError(f"{status!r} is not a terminal call status")
    with regional_write(tenant):
        call = (
            Call.objects.select_for_update()
            .filter(tenant_id=tenant.id, twilio_call_sid=call_sid)
            .first()
        )
        if call is None or call.status in TERMINAL_STATUSES:
            return False
        record(
            stream_id=ev.call_stream(call.id),
            events=[
                ev.CallEnded(
                    call_id=str(call.id),
                    status=status,
                    ended_at=_iso(ended_at or timezone.now()),
                )
            ],
            actor=ACTOR_MEDIA,
            event_ids=[_event_id(call.id, "ended")],
        )
    return True


def call_status_record(
    *, phone_number: PhoneNumber, call_sid: str, twilio_status: str, sequence: int
) -> str:
    """Apply a status callback (``call.status_changed``; ``call.ended`` for a terminal
    status). Idempotent: Twilio retries and may reorder callbacks, so a callback whose
    SequenceNumber is not above the last applied one changes nothing.

    Returns ``applied``, ``duplicate`` or ``unknown_call``.
    """
    status = TWILIO_STATUS[twilio_status]
    tenant = as_ref(phone_number.tenant)
    with regional_write(tenant):
        call = (
            Call.objects.select_for_update()
            .filter(tenant_id=tenant.id, twilio_call_sid=call_sid)
            .first()
        )
        if call is None:
            return "unknown_call"
        if sequence <= call.status_sequence:
            return "duplicate"
        record(
            stream_id=ev.call_stream(call.id),
            events=[
                ev.CallStatusChanged(
                    call_id=str(call.id),
                    twilio_status=twilio_status,
                    status=status,
                    sequence=sequence,
                )
            ],
            actor=ACTOR_TWILIO,
            event_ids=[_event_id(call.id, "status", sequence)],
        )
        if status in TERMINAL_STATUSES:
            call_finalise(tenant=tenant, call_sid=call_sid, status=status)
    return "applied"

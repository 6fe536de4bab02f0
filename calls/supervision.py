"""Live call control through Twilio's REST API: a supervisor ends or escalates a call from
the console, and the voice agent hangs up after its goodbye (``end_call``).

Twilio is asked first; what Twilio accepted is recorded, as ``call.end_requested`` /
``call.escalation_requested`` on the call's stream. Twilio then ends the stream and sends
the status callback that records ``call.ended`` as usual. A supervisor whose request Twilio
refuses is told so and nothing is recorded; the agent's refused hang-up is recorded as
``call.end_refused``, and the agent closes the media stream itself.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from django.core.exceptions import ValidationError

from calls import selectors, services, twilio_rest
from calls.events import call_stream
from calls.models import TERMINAL_STATUSES, Call
from callseal.ledger.envelope import record, regional_write
from callseal.ledger.registry import register_event
from callseal.tenancy.context import TenantRef, tenant_context
from callseal.tenancy.models import Membership
from callseal.tenancy.permissions import Perm, require

QUEUE_RE = re.compile(r"^[A-Za-z0-9 _-]{1,64}$")
MAX_REASON = 200


@register_event("call.end_requested", version=1)
@dataclass(frozen=True, slots=True)
class CallEndRequested:
    call_id: str
    requested_by: str  # user:<id>, or agent:<agent id> (the voice agent's end_call)
    reason: str  # staff text (the form says not to put callers' data in it), or the agent's


@register_event("call.end_refused", version=1)
@dataclass(frozen=True, slots=True)
class CallEndRefused:
    """The agent's hang-up was not accepted (Twilio refused or could not be reached, or
    the number has no Twilio account): the agent closed the media stream instead."""

    call_id: str
    requested_by: str  # agent:<agent id>
    reason: str
    error: str  # Twilio's answer or ours; no caller data


@register_event("call.escalation_requested", version=1)
@dataclass(frozen=True, slots=True)
class CallEscalationRequested:
    call_id: str
    requested_by: str
    reason: str
    queue: str


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason or len(reason) > MAX_REASON:
        raise ValidationError(f"give a reason (1-{MAX_REASON} characters)")
    return reason


def call_twilio_credentials(*, call: Call) -> tuple[str, str]:
    """The Twilio account SID and auth token of the call's number (ValidationError if the
    number has none)."""
    number = (
        selectors.phone_number_by_id(phone_number_id=call.phone_number_id)
        if call.phone_number_id
        else None
    )
    if number is None or not number.twilio_auth_token_sealed:
        raise ValidationError("the call's number has no Twilio account configured")
    return number.twilio_account_sid, services.phone_number_auth_token(number)


def _live_call(call_id: uuid.UUID) -> tuple[Call, str, str]:
    """The call (404 if foreign), its Twilio account SID and auth token."""
    call = selectors.call_get(call_id=call_id)
    if call.status in TERMINAL_STATUSES:
        raise ValidationError("the call has already ended")
    return call, *call_twilio_credentials(call=call)


def call_supervisor_end(*, actor: Membership, call_id: uuid.UUID, reason: str) -> Call:
    """Hang up a live call through Twilio and record who ended it and why."""
    require(actor, Perm.CONTROL_CALLS)
    call, account_sid, token = _live_call(call_id)
    reason = _reason(reason)
    try:
        twilio_rest.call_hang_up(
            account_sid=account_sid, auth_token=token, call_sid=call.twilio_call_sid
        )
    except twilio_rest.TwilioRefused as exc:
        raise ValidationError(str(exc)) from exc
    with regional_write():
        record(
            stream_id=call_stream(call.id),
            events=[
                CallEndRequested(
                    call_id=str(call.id), requested_by=f"user:{actor.user_id}", reason=reason
                )
            ],
            actor=f"user:{actor.user_id}",
        )
    return call


def call_supervisor_escalate(
    *, actor: Membership, call_id: uuid.UUID, reason: str, queue: str = "support"
) -> Call:
    """Move a live call to a human agents' queue through Twilio and record it."""
    require(actor, Perm.CONTROL_CALLS)
    call, account_sid, token = _live_call(call_id)
    reason = _reason(reason)
    if not QUEUE_RE.match(queue or ""):
        raise ValidationError("queue: 1-64 letters, digits, spaces, '-' or '_'")
    try:
        twilio_rest.call_enqueue(
            account_sid=account_sid, auth_token=token, call_sid=call.twilio_call_sid, queue=queue
        )
    except twilio_rest.TwilioRefused as exc:
        raise ValidationError(str(exc)) from exc
    with regional_write():
        record(
            stream_id=call_stream(call.id),
            events=[
                CallEscalationRequested(
                    call_id=str(call.id),
                    requested_by=f"user:{actor.user_id}",
                    reason=reason,
                    queue=queue,
                )
            ],
            actor=f"user:{actor.user_id}",
        )
    return call


def call_agent_end(
    *, tenant: TenantRef, call_id: uuid.UUID, agent_id: uuid.UUID, reason: str
) -> bool:
    """The voice agent's ``end_call``, once its goodbye was heard: hang up through Twilio
    and record ``call.end_requested``. Blocking (Twilio's answer): run it in a thread.

    False when Twilio refused or could not be asked: ``call.end_refused`` records why, and
    the agent must close the media stream itself. True as well when the call had already
    ended (the caller hung up first): nothing is asked or recorded then.
    """
    requested_by = f"agent:{agent_id}"
    event: CallEndRequested | CallEndRefused
    with tenant_context(tenant):
        call = selectors.call_get(call_id=call_id)
        if call.status in TERMINAL_STATUSES:
            return True
        try:
            account_sid, token = call_twilio_credentials(call=call)
            twilio_rest.call_hang_up(
                account_sid=account_sid, auth_token=token, call_sid=call.twilio_call_sid
            )
        except (ValidationError, twilio_rest.TwilioRefused) as exc:
            error = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
            event = CallEndRefused(
                call_id=str(call.id), requested_by=requested_by, reason=reason, error=error[:200]
            )
        else:
            event = CallEndRequested(call_id=str(call.id), requested_by=requested_by, reason=reason)
        with regional_write(tenant):
            record(stream_id=call_stream(call.id), events=[event], actor=requested_by)
    return isinstance(event, CallEndRequested)

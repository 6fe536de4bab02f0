"""What an audit search or export selects, validated from outside input (form or command)."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from calls.models import CALL_SID_RE, Call
from callseal.crypto.services import subject_ref_for
from callseal.tenancy.context import current_tenant
from callseal.tenancy.models import Membership

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
EVENT_TYPE = re.compile(r"^[A-Za-z0-9_.:-]{1,200}$")
MAX_TEXT = 200


class FilterError(ValueError):
    """Bad search or export criteria; the message says which and why."""


def call_stream_ids(call: str) -> list[str]:
    """A call's ledger streams: ``call-<uuid>`` for a call id, or the stream id given as is."""
    try:
        return [f"call-{uuid.UUID(call)}"]
    except ValueError:
        return [call]


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Events recorded in [start, end), of ``types``, by ``actor``, of a call or subject.

    ``subject_ref`` (never the phone number) selects the subject's events and its erasure.
    With no call, type, actor or subject the selection is a contiguous sequence range.
    """

    start: datetime | None = None
    end: datetime | None = None
    call: str | None = None
    types: tuple[str, ...] = field(default=())
    actor: str | None = None
    subject_ref: str | None = None

    @property
    def contiguous(self) -> bool:
        return not (self.call or self.types or self.actor or self.subject_ref)

    def criteria(self) -> dict[str, Any]:
        """The filter as JSON, for access events and manifests (no personal data in it)."""
        return {
            "from": self.start.isoformat() if self.start else None,
            "to": self.end.isoformat() if self.end else None,
            "call": self.call,
            "stream_ids": call_stream_ids(self.call) if self.call else [],
            "types": list(self.types),
            "actor": self.actor,
            "subject_ref": self.subject_ref,
        }


def filter_from_criteria(criteria: dict[str, Any]) -> AuditFilter:
    """The filter back from ``AuditFilter.criteria()`` (a stored export job)."""
    return AuditFilter(
        start=_time(criteria.get("from"), "from"),
        end=_time(criteria.get("to"), "to"),
        call=criteria.get("call"),
        types=tuple(criteria.get("types") or ()),
        actor=criteria.get("actor"),
        subject_ref=criteria.get("subject_ref"),
    )


def _time(value: str | None, name: str) -> datetime | None:
    if value is None or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise FilterError(f"{name}: {value!r} is not an ISO 8601 date or time") from None
    # A bare date or time without an offset is read as UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _text(value: str | None, name: str) -> str | None:
    if value is None or not value.strip():
        return None
    value = value.strip()
    if len(value) > MAX_TEXT or any(ord(c) < 32 for c in value):
        raise FilterError(f"{name}: at most {MAX_TEXT} printable characters")
    return value


def _call(value: str | None) -> str | None:
    """A call id or stream as given, or a Twilio SID (what the call pages show) read as the
    id of this tenant's call with that SID."""
    call = _text(value, "call")
    if call is None or not re.fullmatch(CALL_SID_RE, call):
        return call
    call_id = (
        Call.objects.filter(tenant_id=current_tenant().id, twilio_call_sid=call)
        .values_list("id", flat=True)
        .first()
    )
    if call_id is None:
        raise FilterError("call: no call with that Twilio SID in this tenant")
    return str(call_id)


def _actor(value: str | None) -> str | None:
    """A ledger actor as recorded (``user:12``, ``twilio``, ``system:retention``: it has a
    colon or no member has that name) or a member's username, read as ``user:<id>``."""
    actor = _text(value, "actor")
    if actor is None or ":" in actor:
        return actor
    user_id = (
        Membership.objects.filter(tenant_id=current_tenant().id, user__username=actor)
        .values_list("user_id", flat=True)
        .first()
    )
    return actor if user_id is None else f"user:{user_id}"


def filter_parse(
    *,
    start: str | None = None,
    end: str | None = None,
    call: str | None = None,
    types: str | list[str] | None = None,
    actor: str | None = None,
    subject_phone: str | None = None,
) -> AuditFilter:
    """Build a filter from text input; raise FilterError naming the bad criterion.

    Needs the tenant context: a subject ref is keyed by the tenant, and an actor given as
    a username is looked up among the tenant's members.
    """
    begin, finish = _time(start, "from"), _time(end, "to")
    if begin and finish and finish <= begin:
        raise FilterError("to: must be later than from")
    if isinstance(types, str):
        types = [t for t in re.split(r"[,\s]+", types) if t]
    for event_type in types or []:
        if not EVENT_TYPE.match(event_type):
            raise FilterError(f"type: {event_type!r} is not an event type name")
    subject_ref = None
    phone = _text(subject_phone, "subject")
    if phone is not None:
        if not E164.match(phone):
            raise FilterError("subject: a phone number in E.164 form, such as +14155550123")
        subject_ref = subject_ref_for(phone)
    return AuditFilter(
        start=begin,
        end=finish,
        call=_call(call),
        types=tuple(sorted(set(types or []))),
        actor=_actor(actor),
        subject_ref=subject_ref,
    )

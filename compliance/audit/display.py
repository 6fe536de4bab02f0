"""The audit trail as people read it: usernames for staff actors, details as ``key: value``
text, links to the calls events belong to. Lookups are tenant-scoped: a user id resolves
only to a member of the current tenant, a call id only to one of its calls."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from calls.models import Call
from callseal.tenancy.context import current_tenant
from callseal.tenancy.models import Membership
from compliance.audit.selectors import AuditRow

USER_ACTOR = re.compile(r"^user:(\d{1,18})$")
CALL_STREAM = re.compile(r"^call-([0-9a-f-]{36})$")
MAX_TEXT = 300


@dataclass(frozen=True, slots=True)
class DisplayRow:
    row: AuditRow
    actor: str  # a member's username, or the actor as recorded
    actor_title: str  # the actor as recorded (shown on hover)
    call_id: uuid.UUID | None  # the call the event belongs to, when one of this tenant's
    call_sid: str
    details: list[tuple[str, str]]


def usernames(user_ids: Iterable[int]) -> dict[int, str]:
    """Usernames of the current tenant's members among ``user_ids``."""
    rows = Membership.objects.filter(tenant_id=current_tenant().id, user_id__in=set(user_ids))
    return dict(rows.values_list("user_id", "user__username"))


def text(value: Any) -> str:
    """A stored value as plain text: no Python or JSON syntax, nested values as key: value."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        # Inside a value (search criteria, tool results) unset entries are noise.
        entries = [f"{k}: {text(v)}" for k, v in value.items() if v not in (None, "", [], {})]
        return "; ".join(entries) if entries else "—"
    if isinstance(value, list | tuple):
        return ", ".join(text(v) for v in value) if value else "none"
    shown = str(value)
    return shown if len(shown) <= MAX_TEXT else shown[: MAX_TEXT - 1] + "…"


def _call_of(row: AuditRow) -> uuid.UUID | None:
    found = CALL_STREAM.match(row.stream_id)
    raw = found.group(1) if found else row.details.get("call_id")
    try:
        return uuid.UUID(str(raw)) if raw else None
    except ValueError:
        return None


def display_rows(rows: list[AuditRow]) -> list[DisplayRow]:
    actors = {r.actor: USER_ACTOR.match(r.actor) for r in rows}
    names = usernames(int(m.group(1)) for m in actors.values() if m)
    call_ids = {c for c in (_call_of(r) for r in rows) if c is not None}
    sids = dict(
        Call.objects.filter(tenant_id=current_tenant().id, id__in=call_ids).values_list(
            "id", "twilio_call_sid"
        )
    )
    shown = []
    for row in rows:
        match = actors[row.actor]
        actor = row.actor
        if match:
            user_id = int(match.group(1))
            actor = names.get(user_id, f"{row.actor} (not a member)")
        call_id = _call_of(row)
        shown.append(
            DisplayRow(
                row=row,
                actor=actor,
                actor_title=row.actor,
                call_id=call_id if call_id in sids else None,
                call_sid=sids.get(call_id, "") if call_id else "",
                details=[(k, text(v)) for k, v in row.details.items()],
            )
        )
    return shown

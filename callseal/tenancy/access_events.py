"""Append console-access events (memberships, grants, sign-in) to a tenant's ledger."""

from __future__ import annotations

from typing import Any

from callseal.tenancy.events import MEMBERS_STREAM, SECURITY_STREAM


def access_event_record(*, tenant: Any, event: object, actor: str) -> None:
    """Append ``event`` to ``tenant``'s ledger in its region.

    The directory row and the regional event are two databases: callers run this inside
    their directory transaction, so a failed append rolls the directory change back.
    """
    from callseal.ledger.envelope import write
    from callseal.ledger.registry import spec_for_instance

    security = spec_for_instance(event).type.startswith("security.")
    stream = SECURITY_STREAM if security else MEMBERS_STREAM
    write(tenant=tenant, stream_id=stream, events=[event], actor=actor)


def staff_actor(user: Any) -> str:
    """The ledger's actor metadata for a console user (the same form as the other apps')."""
    return f"user:{user.pk}"

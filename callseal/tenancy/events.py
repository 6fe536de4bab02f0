"""Ledger event types of console access: memberships, role grants and sign-in security.

Staff are named by username (the audit trail is read by people); no caller data here.
Membership events go to the tenant's ``members`` stream, sign-in events to ``security``.
"""

from __future__ import annotations

from dataclasses import dataclass

from callseal.ledger.registry import register_event

MEMBERS_STREAM = "members"
SECURITY_STREAM = "security"


@register_event("member.added", version=1)
@dataclass(frozen=True, slots=True)
class MemberAdded:
    username: str
    role: str
    by: str
    approved_by: str | None = None


@register_event("member.role_changed", version=1)
@dataclass(frozen=True, slots=True)
class MemberRoleChanged:
    username: str
    old_role: str
    new_role: str
    by: str
    approved_by: str | None = None


@register_event("member.removed", version=1)
@dataclass(frozen=True, slots=True)
class MemberRemoved:
    username: str
    role: str
    by: str


@register_event("member.role_grant_requested", version=1)
@dataclass(frozen=True, slots=True)
class RoleGrantRequested:
    grant_id: str
    username: str
    role: str
    by: str


@register_event("member.role_grant_decided", version=1)
@dataclass(frozen=True, slots=True)
class RoleGrantDecided:
    grant_id: str
    username: str
    role: str
    requested_by: str
    decision: str  # "approved" | "rejected"
    by: str


@register_event("security.login_locked", version=1)
@dataclass(frozen=True, slots=True)
class LoginLocked:
    """An account's sign-in is refused until ``locked_until`` (ISO 8601) or an unlock."""

    username: str
    failures: int
    locked_until: str


@register_event("security.login_unlocked", version=1)
@dataclass(frozen=True, slots=True)
class LoginUnlocked:
    username: str
    by: str

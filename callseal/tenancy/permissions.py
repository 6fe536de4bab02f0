"""What each role may do. Services call ``require``; templates only hide what it refuses."""

from __future__ import annotations

from enum import StrEnum

from django.core.exceptions import PermissionDenied

from callseal.tenancy.models import Role


class Perm(StrEnum):
    VIEW_CALLS = "calls.view"
    CONTROL_CALLS = "calls.control"
    MANAGE_AGENTS = "agents.manage"
    VIEW_AGENTS = "agents.view"
    MANAGE_NUMBERS = "numbers.manage"
    MANAGE_USERS = "users.manage"
    APPROVE_ROLE_GRANTS = "users.approve_roles"
    MANAGE_TENANT = "tenant.manage"
    VIEW_ANALYTICS = "analytics.view"
    VIEW_COMPLIANCE = "compliance.view"
    MANAGE_COMPLIANCE = "compliance.manage"
    ERASE_SUBJECT = "compliance.erase"
    SEARCH_AUDIT = "audit.search"
    EXPORT_AUDIT = "audit.export"
    PLAY_RECORDING = "recordings.play"
    PLAY_ORIGINAL_RECORDING = "recordings.play_original"


ROLE_PERMISSIONS: dict[str, frozenset[Perm]] = {
    Role.ADMIN: frozenset(
        {
            Perm.VIEW_CALLS,
            Perm.CONTROL_CALLS,
            Perm.MANAGE_AGENTS,
            Perm.VIEW_AGENTS,
            Perm.MANAGE_NUMBERS,
            Perm.MANAGE_USERS,
            Perm.APPROVE_ROLE_GRANTS,
            Perm.MANAGE_TENANT,
            Perm.VIEW_ANALYTICS,
            Perm.VIEW_COMPLIANCE,
            Perm.PLAY_RECORDING,
        }
    ),
    Role.SUPERVISOR: frozenset(
        {
            Perm.VIEW_CALLS,
            Perm.CONTROL_CALLS,
            Perm.VIEW_AGENTS,
            Perm.VIEW_ANALYTICS,
            Perm.PLAY_RECORDING,
        }
    ),
    Role.AGENT: frozenset({Perm.VIEW_CALLS}),
    Role.COMPLIANCE_OFFICER: frozenset(
        {
            Perm.VIEW_CALLS,
            Perm.VIEW_COMPLIANCE,
            Perm.MANAGE_COMPLIANCE,
            Perm.ERASE_SUBJECT,
            Perm.SEARCH_AUDIT,
            Perm.EXPORT_AUDIT,
            Perm.PLAY_RECORDING,
            Perm.PLAY_ORIGINAL_RECORDING,
            Perm.VIEW_ANALYTICS,
            Perm.APPROVE_ROLE_GRANTS,
        }
    ),
    Role.AUDITOR: frozenset(
        {Perm.VIEW_CALLS, Perm.VIEW_COMPLIANCE, Perm.SEARCH_AUDIT, Perm.EXPORT_AUDIT}
    ),
}


def role_allows(role: str, perm: Perm) -> bool:
    return perm in ROLE_PERMISSIONS.get(role, frozenset())


def require(membership: object | None, perm: Perm) -> None:
    """Raise PermissionDenied unless the actor's membership grants ``perm``."""
    role = getattr(membership, "role", None)
    if role is None or not role_allows(role, perm):
        raise PermissionDenied(f"your role does not allow {perm.value}")

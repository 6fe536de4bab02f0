"""Writes to the directory: tenants and memberships."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from callseal.tenancy.access_events import access_event_record, staff_actor
from callseal.tenancy.channels import user_sockets_close
from callseal.tenancy.events import (
    MemberAdded,
    MemberRemoved,
    MemberRoleChanged,
    RoleGrantDecided,
    RoleGrantRequested,
)
from callseal.tenancy.models import Membership, Role, RoleGrant, RoleGrantStatus, Tenant

CONSENT_MODES = {"one_party", "all_party", "jurisdiction", "explicit"}
# compliance.models.DataClass; what each class's shredding means: docs/adr/0009.
RETENTION_DATA_CLASSES = {
    "recordings",
    "raw_transcripts",
    "redacted_transcripts",
    "personal_fields",
}
MAX_RETENTION_DAYS = 36500
# The tenant's own recording notice (compliance.consent.announcement_text adds how to
# answer); empty: the deployment's CALLSEAL_CONSENT_ANNOUNCEMENT.
MAX_ANNOUNCEMENT_CHARS = 300
# Who approves a privileged role an admin asks for (docs/adr/0019-console-access-control.md).
APPROVAL_POLICY = "role_grant_approval"
APPROVAL_MODES = {"compliance_officer", "second_admin"}


def tenant_policies_validate(policies: dict[str, Any], *, region: str) -> dict[str, Any]:
    """Check a tenant's policy document; unknown keys are refused rather than ignored."""
    allowed = {
        "consent_mode",
        "consent_announcement",
        "inference_fallback_regions",
        "retention_days",
        APPROVAL_POLICY,
    }
    unknown = set(policies) - allowed
    if unknown:
        raise ValidationError(f"unknown policy keys: {', '.join(sorted(unknown))}")
    consent = policies.get("consent_mode", "jurisdiction")
    if consent not in CONSENT_MODES:
        raise ValidationError(f"consent_mode must be one of {', '.join(sorted(CONSENT_MODES))}")
    announcement = policies.get("consent_announcement", "")
    if not isinstance(announcement, str):
        raise ValidationError("consent_announcement must be text")
    announcement = " ".join(announcement.split())  # spoken: line breaks and runs mean nothing
    if len(announcement) > MAX_ANNOUNCEMENT_CHARS:
        raise ValidationError(
            f"consent_announcement must be at most {MAX_ANNOUNCEMENT_CHARS} characters "
            f"(it has {len(announcement)})"
        )
    fallback = policies.get("inference_fallback_regions", [])
    if not isinstance(fallback, list) or any(r not in settings.REGIONS for r in fallback):
        raise ValidationError("inference_fallback_regions must list configured regions")
    if region in fallback:
        raise ValidationError("inference_fallback_regions must not name the tenant's own region")
    retention = policies.get("retention_days", {})
    if not isinstance(retention, dict) or any(
        not isinstance(v, int) or isinstance(v, bool) or v < 1 for v in retention.values()
    ):
        raise ValidationError("retention_days must map data classes to positive day counts")
    unknown_classes = set(retention) - RETENTION_DATA_CLASSES
    if unknown_classes:
        raise ValidationError(
            f"unknown data classes in retention_days: {', '.join(sorted(unknown_classes))};"
            f" allowed: {', '.join(sorted(RETENTION_DATA_CLASSES))}"
        )
    if any(v > MAX_RETENTION_DAYS for v in retention.values()):
        raise ValidationError(f"retention_days allows at most {MAX_RETENTION_DAYS} days")
    approval = policies.get(APPROVAL_POLICY, "compliance_officer")
    if approval not in APPROVAL_MODES:
        raise ValidationError(
            f"{APPROVAL_POLICY} must be one of {', '.join(sorted(APPROVAL_MODES))}"
        )
    return {
        "consent_mode": consent,
        "consent_announcement": announcement,
        "inference_fallback_regions": fallback,
        "retention_days": retention,
        APPROVAL_POLICY: approval,
    }


def tenant_create(
    *, slug: str, name: str, region: str, policies: dict[str, Any] | None = None
) -> Tenant:
    if region not in settings.REGIONS:
        raise ValidationError(
            f"region {region!r} does not exist; configured: {', '.join(settings.REGIONS)}"
        )
    tenant = Tenant(
        slug=slug,
        name=name,
        region=region,
        policies=tenant_policies_validate(policies or {}, region=region),
    )
    tenant.full_clean()
    tenant.save()
    return tenant


@transaction.atomic
def membership_grant(*, tenant: Tenant, user: AbstractBaseUser, role: str) -> Membership:
    if role not in Role.values:
        raise ValidationError(f"role must be one of {', '.join(Role.values)}")
    membership, _ = Membership.objects.update_or_create(
        tenant=tenant, user=user, defaults={"role": role}
    )
    return membership


def user_create(*, username: str, email: str, password: str) -> AbstractBaseUser:
    user_model = get_user_model()
    user = user_model(username=username, email=email)
    user.set_password(password)
    user.full_clean()
    user.save()
    return user


class LastAdminError(ValidationError):
    pass


def _require_manage_users(actor: Membership) -> None:
    from callseal.tenancy.permissions import Perm, require

    require(actor, Perm.MANAGE_USERS)


def _admins_left_after(membership: Membership, *, new_role: str | None) -> int:
    admins = Membership.objects.filter(tenant_id=membership.tenant_id, role=Role.ADMIN)
    count = admins.exclude(id=membership.id).count()
    return count + (1 if new_role == Role.ADMIN else 0)


def _check_role(role: str) -> None:
    if role not in Role.values:
        raise ValidationError(f"role must be one of {', '.join(Role.values)}")


def member_get(*, actor: Membership, membership_id: int) -> Membership:
    """A membership of the actor's tenant; 404 for missing and for another tenant's alike."""
    from django.http import Http404

    try:
        return Membership.objects.select_related("user").get(
            id=membership_id, tenant_id=actor.tenant_id
        )
    except Membership.DoesNotExist:
        raise Http404("No membership matches the given query.") from None


@transaction.atomic
def member_add(
    *, actor: Membership, username: str, email: str, role: str, password: str | None
) -> Membership | RoleGrant:
    """Add a user to the actor's tenant, creating the account when it does not exist yet.

    A role that needs a second person (``roles_needing_approval``) is not granted: the
    answer is the pending RoleGrant, and the user joins when it is approved.
    """
    _require_manage_users(actor)
    _check_role(role)
    user_model = get_user_model()
    user: Any = user_model.objects.filter(username=username).first()
    if user is None:
        if not password:
            raise ValidationError("a new user needs an initial password")
        from django.contrib.auth.password_validation import validate_password

        candidate = user_model(username=username, email=email)
        validate_password(password, user=candidate)
        user = user_create(username=username, email=email, password=password)
    elif Membership.objects.filter(user=user, tenant_id=actor.tenant_id).exists():
        raise ValidationError(f"{username} is already a member of this tenant")
    if role in roles_needing_approval(actor.tenant):
        return role_grant_request(actor=actor, user=user, role=role)
    added = Membership.objects.create(user=user, tenant_id=actor.tenant_id, role=role)
    access_event_record(
        tenant=actor.tenant,
        event=MemberAdded(username=user.get_username(), role=role, by=_username(actor)),
        actor=staff_actor(actor.user),
    )
    return added


@transaction.atomic
def member_change_role(
    *, actor: Membership, membership_id: int, role: str
) -> Membership | RoleGrant:
    """Change a member's role; a role that needs approval answers a pending RoleGrant."""
    _require_manage_users(actor)
    _check_role(role)
    membership = member_get(actor=actor, membership_id=membership_id)
    if role == membership.role:
        return membership
    if role in roles_needing_approval(actor.tenant):
        return role_grant_request(actor=actor, user=membership.user, role=role)
    return _role_set(membership, role=role, by=_username(actor), actor=actor.user)


def _role_set(
    membership: Membership, *, role: str, by: str, actor: Any, approved_by: str | None = None
) -> Membership:
    # Lock the tenant's admins so two concurrent demotions cannot both pass the check.
    admins = Membership.objects.select_for_update().filter(
        tenant_id=membership.tenant_id, role=Role.ADMIN
    )
    list(admins)
    if membership.role == Role.ADMIN and _admins_left_after(membership, new_role=role) == 0:
        raise LastAdminError("a tenant must keep at least one admin")
    old_role = membership.role
    membership.role = role
    membership.save(update_fields=["role"])
    event = MemberRoleChanged(
        username=membership.user.get_username(),
        old_role=old_role,
        new_role=role,
        by=by,
        approved_by=approved_by,
    )
    access_event_record(tenant=membership.tenant, event=event, actor=staff_actor(actor))
    user_sockets_close(user_id=membership.user_id, reason="role changed")
    return membership


@transaction.atomic
def member_remove(*, actor: Membership, membership_id: int) -> None:
    """Remove a member; their open console sockets close when the removal commits."""
    _require_manage_users(actor)
    membership = member_get(actor=actor, membership_id=membership_id)
    list(Membership.objects.select_for_update().filter(tenant_id=actor.tenant_id, role=Role.ADMIN))
    if membership.role == Role.ADMIN and _admins_left_after(membership, new_role=None) == 0:
        raise LastAdminError("a tenant must keep at least one admin")
    event = MemberRemoved(
        username=membership.user.get_username(), role=membership.role, by=_username(actor)
    )
    membership.delete()
    access_event_record(tenant=actor.tenant, event=event, actor=staff_actor(actor.user))
    user_sockets_close(user_id=membership.user_id, reason="membership removed")


def _username(membership: Membership) -> str:
    return str(membership.user.get_username())


def roles_needing_approval(tenant: Tenant) -> frozenset[str]:
    """Roles an admin may only ask for: compliance and auditor roles always; the admin role
    too where a second admin approves (else one admin could approve through a puppet)."""
    privileged = {Role.COMPLIANCE_OFFICER.value, Role.AUDITOR.value}
    if (tenant.policies or {}).get(APPROVAL_POLICY) == "second_admin":
        privileged.add(Role.ADMIN.value)
    return frozenset(privileged)


def role_grant_request(*, actor: Membership, user: Any, role: str) -> RoleGrant:
    """Record a pending grant of ``role`` to ``user`` in the actor's tenant."""
    if RoleGrant.objects.filter(
        tenant_id=actor.tenant_id, user=user, status=RoleGrantStatus.PENDING
    ).exists():
        raise ValidationError(f"{user.get_username()} already has a role request waiting")
    grant = RoleGrant.objects.create(
        tenant_id=actor.tenant_id, user=user, role=role, requested_by_id=actor.user_id
    )
    event = RoleGrantRequested(
        grant_id=str(grant.id), username=user.get_username(), role=role, by=_username(actor)
    )
    access_event_record(tenant=actor.tenant, event=event, actor=staff_actor(actor.user))
    return grant


def _may_approve(actor: Membership, grant: RoleGrant) -> str | None:
    """None when ``actor`` may approve ``grant``, else why not."""
    if actor.user_id in (grant.requested_by_id, grant.user_id):
        return "a role request needs a second person: you cannot approve your own"
    if actor.role == Role.COMPLIANCE_OFFICER:
        return None
    mode = (actor.tenant.policies or {}).get(APPROVAL_POLICY, "compliance_officer")
    if actor.role == Role.ADMIN and mode == "second_admin":
        return None
    return "a compliance officer must approve this role request"


@transaction.atomic
def role_grant_decide(*, actor: Membership, grant_id: Any, approve: bool) -> RoleGrant:
    """Approve or reject a pending role request of the actor's tenant.

    Approving needs a second person (never the requester or the grantee): a compliance
    officer, or another admin where the tenant's policy is ``second_admin``.
    """
    from django.core.exceptions import PermissionDenied
    from django.http import Http404
    from django.utils import timezone

    from callseal.tenancy.permissions import Perm, require

    require(actor, Perm.APPROVE_ROLE_GRANTS)
    grant = (
        RoleGrant.objects.select_for_update()
        .select_related("user", "requested_by")
        .filter(id=grant_id, tenant_id=actor.tenant_id, status=RoleGrantStatus.PENDING)
        .first()
    )
    if grant is None:
        raise Http404("No pending role request matches the given query.")
    if approve:
        refusal = _may_approve(actor, grant)
        if refusal is not None:
            raise PermissionDenied(refusal)
    grant.status = RoleGrantStatus.APPROVED if approve else RoleGrantStatus.REJECTED
    grant.decided_by_id = actor.user_id
    grant.decided_at = timezone.now()
    grant.save(update_fields=["status", "decided_by", "decided_at"])
    requested_by = str(grant.requested_by.get_username())
    decided = RoleGrantDecided(
        grant_id=str(grant.id),
        username=grant.user.get_username(),
        role=grant.role,
        requested_by=requested_by,
        decision=grant.status,
        by=_username(actor),
    )
    access_event_record(tenant=actor.tenant, event=decided, actor=staff_actor(actor.user))
    if approve:
        _grant_apply(grant, approver=actor, requested_by=requested_by)
    return grant


def _grant_apply(grant: RoleGrant, *, approver: Membership, requested_by: str) -> None:
    existing = Membership.objects.filter(tenant_id=grant.tenant_id, user=grant.user).first()
    if existing is not None:
        _role_set(
            existing,
            role=grant.role,
            by=requested_by,
            actor=approver.user,
            approved_by=_username(approver),
        )
        return
    Membership.objects.create(tenant_id=grant.tenant_id, user=grant.user, role=grant.role)
    event = MemberAdded(
        username=grant.user.get_username(),
        role=grant.role,
        by=requested_by,
        approved_by=_username(approver),
    )
    access_event_record(tenant=approver.tenant, event=event, actor=staff_actor(approver.user))

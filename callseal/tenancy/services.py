"""Writes to the directory: tenants and memberships."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from callseal.tenancy.models import Membership, Role, Tenant

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


def tenant_policies_validate(policies: dict[str, Any], *, region: str) -> dict[str, Any]:
    """Check a tenant's policy document; unknown keys are refused rather than ignored."""
    allowed = {
        "consent_mode",
        "consent_announcement",
        "inference_fallback_regions",
        "retention_days",
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
    return {
        "consent_mode": consent,
        "consent_announcement": announcement,
        "inference_fallback_regions": fallback,
        "retention_days": retention,
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
) -> Membership:
    """Add a user to the actor's tenant, creating the account when it does not exist yet."""
    _require_manage_users(actor)
    if role not in Role.values:
        raise ValidationError(f"role must be one of {', '.join(Role.values)}")
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
    return Membership.objects.create(user=user, tenant_id=actor.tenant_id, role=role)


@transaction.atomic
def member_change_role(*, actor: Membership, membership_id: int, role: str) -> Membership:
    _require_manage_users(actor)
    if role not in Role.values:
        raise ValidationError(f"role must be one of {', '.join(Role.values)}")
    membership = member_get(actor=actor, membership_id=membership_id)
    # Lock the tenant's admins so two concurrent demotions cannot both pass the check.
    list(Membership.objects.select_for_update().filter(tenant_id=actor.tenant_id, role=Role.ADMIN))
    if membership.role == Role.ADMIN and _admins_left_after(membership, new_role=role) == 0:
        raise LastAdminError("a tenant must keep at least one admin")
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def member_remove(*, actor: Membership, membership_id: int) -> None:
    _require_manage_users(actor)
    membership = member_get(actor=actor, membership_id=membership_id)
    list(Membership.objects.select_for_update().filter(tenant_id=actor.tenant_id, role=Role.ADMIN))
    if membership.role == Role.ADMIN and _admins_left_after(membership, new_role=None) == 0:
        raise LastAdminError("a tenant must keep at least one admin")
    membership.delete()

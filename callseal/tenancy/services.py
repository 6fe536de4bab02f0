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


def tenant_policies_validate(policies: dict[str, Any], *, region: str) -> dict[str, Any]:
    """Check a tenant's policy document; unknown keys are refused rather than ignored."""
    allowed = {"consent_mode", "inference_fallback_regions", "retention_days"}
    unknown = set(policies) - allowed
    if unknown:
        raise ValidationError(f"unknown policy keys: {', '.join(sorted(unknown))}")
    consent = policies.get("consent_mode", "jurisdiction")
    if consent not in CONSENT_MODES:
        raise ValidationError(f"consent_mode must be one of {', '.join(sorted(CONSENT_MODES))}")
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
    return {
        "consent_mode": consent,
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

"""Edits of the tenant's consent and retention policies (compliance officers only)."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from callseal.ledger.services import ledger_append
from callseal.tenancy.context import current_tenant
from callseal.tenancy.models import Tenant
from callseal.tenancy.permissions import Perm, require
from callseal.tenancy.router import DIRECTORY
from callseal.tenancy.services import tenant_policies_validate
from compliance.events import PolicyChanged
from compliance.tx import actor_name, regional_write


def tenant_policies_get(*, actor: object) -> dict[str, Any]:
    require(actor, Perm.VIEW_COMPLIANCE)
    tenant = Tenant.objects.get(id=current_tenant().id)
    return tenant_policies_validate(dict(tenant.policies or {}), region=tenant.region)


def _update(*, actor: object, policy: str, value: Any) -> dict[str, Any]:
    require(actor, Perm.MANAGE_COMPLIANCE)
    ref = current_tenant()
    # Directory row locked first, then the region's transaction holds the ledger event; both
    # commit only if validation and the append succeed.
    with transaction.atomic(using=DIRECTORY), regional_write():
        tenant = Tenant.objects.select_for_update().get(id=ref.id)
        current = tenant_policies_validate(dict(tenant.policies or {}), region=tenant.region)
        updated = tenant_policies_validate({**current, policy: value}, region=tenant.region)
        if updated == current:
            return current
        tenant.policies = updated
        tenant.save(update_fields=["policies"])
        ledger_append(
            stream_id="compliance-policies",
            events=[
                PolicyChanged(
                    policy=policy,
                    old={policy: current[policy]},
                    new={policy: updated[policy]},
                    changed_by=actor_name(actor),
                )
            ],
            actor=actor_name(actor),
        )
    return updated


def consent_policy_update(*, actor: object, consent_mode: str) -> dict[str, Any]:
    """Set the tenant's consent mode (compliance.consent policies)."""
    return _update(actor=actor, policy="consent_mode", value=consent_mode)


def retention_policy_update(*, actor: object, retention_days: dict[str, int]) -> dict[str, Any]:
    """Replace the tenant's retention days per data class (absent class = kept forever)."""
    return _update(actor=actor, policy="retention_days", value=dict(retention_days))

"""Edits of the tenant's consent and retention policies (compliance officers only)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction

from callseal.ledger.envelope import record, regional_write
from callseal.tenancy.context import current_tenant
from callseal.tenancy.models import Tenant
from callseal.tenancy.permissions import Perm, require
from callseal.tenancy.router import DIRECTORY
from callseal.tenancy.services import tenant_policies_validate
from compliance.consent import Requirement, announcement_text, announcement_version
from compliance.events import PolicyChanged
from compliance.tx import actor_name


def tenant_policies_get(*, actor: object) -> dict[str, Any]:
    require(actor, Perm.VIEW_COMPLIANCE)
    tenant = Tenant.objects.get(id=current_tenant().id)
    return tenant_policies_validate(dict(tenant.policies or {}), region=tenant.region)


def _update(*, actor: object, changes: dict[str, Any]) -> dict[str, Any]:
    require(actor, Perm.MANAGE_COMPLIANCE)
    ref = current_tenant()
    # Directory row locked first, then the region's transaction holds the ledger events;
    # all commit only if validation and the appends succeed.
    with transaction.atomic(using=DIRECTORY), regional_write():
        tenant = Tenant.objects.select_for_update().get(id=ref.id)
        current = tenant_policies_validate(dict(tenant.policies or {}), region=tenant.region)
        updated = tenant_policies_validate({**current, **changes}, region=tenant.region)
        changed = [key for key in changes if updated[key] != current[key]]
        if not changed:
            return current
        tenant.policies = updated
        tenant.save(update_fields=["policies"])
        record(
            stream_id="compliance-policies",
            events=[
                PolicyChanged(
                    policy=key,
                    old={key: current[key]},
                    new={key: updated[key]},
                    changed_by=actor_name(actor),
                )
                for key in changed
            ],
            actor=actor_name(actor),
        )
    return updated


def consent_announcement_base(policies: dict[str, Any]) -> str:
    """The recording notice a tenant's callers hear (before how to answer): the tenant's
    own text, else the deployment's CALLSEAL_CONSENT_ANNOUNCEMENT."""
    return str(policies.get("consent_announcement") or settings.CALLSEAL_CONSENT_ANNOUNCEMENT)


def consent_announcement_versions(policies: dict[str, Any]) -> dict[str, str]:
    """The announcement version each requirement's callers hear now: what their consent
    evidence names (``announcement_version`` of the words played)."""
    base = consent_announcement_base(policies)
    return {
        str(requirement): announcement_version(announcement_text(base, requirement))
        for requirement in Requirement
    }


def consent_policy_update(
    *, actor: object, consent_mode: str, announcement: str | None = None
) -> dict[str, Any]:
    """Set the tenant's consent mode and, when given, its announcement text ("" goes back
    to the deployment's). Each changed key is a ``compliance.policy_changed`` event; a new text is a
    new announcement version, which the evidence of later calls names."""
    changes: dict[str, Any] = {"consent_mode": consent_mode}
    if announcement is not None:
        # The deployment's own text is kept as "" so that it follows the deployment.
        same = " ".join(announcement.split()) == settings.CALLSEAL_CONSENT_ANNOUNCEMENT.strip()
        changes["consent_announcement"] = "" if same else announcement
    return _update(actor=actor, changes=changes)


def retention_policy_update(*, actor: object, retention_days: dict[str, int]) -> dict[str, Any]:
    """Replace the tenant's retention days per data class (absent class = kept forever)."""
    return _update(actor=actor, changes={"retention_days": dict(retention_days)})


def role_grant_approval_policy_update(*, actor: object, mode: str) -> dict[str, Any]:
    """Who approves privileged roles an admin asks for: ``compliance_officer`` or
    ``second_admin`` (docs/adr/0019-console-access-control.md)."""
    return _update(actor=actor, changes={"role_grant_approval": mode})

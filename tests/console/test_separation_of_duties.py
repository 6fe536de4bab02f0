"""Issue 22 finding 5: an admin alone cannot make a compliance officer; role changes are
events in the tenant's ledger, by username."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from callseal.ledger.selectors import ledger_read_stream
from callseal.tenancy.context import tenant_context
from callseal.tenancy.events import MEMBERS_STREAM
from callseal.tenancy.models import Membership, Role, RoleGrant
from tests.conftest import ALL_DATABASES
from tests.factories import UserFactory, membership, second_factor_verified

pytestmark = pytest.mark.django_db(databases=ALL_DATABASES)
NEW_OFFICER = {
    "username": "casey",
    "email": "casey@example.com",
    "role": Role.COMPLIANCE_OFFICER,
    "password": "a-long-unusual-passphrase",
}


def _members_events(tenant) -> list[tuple[str, dict]]:  # type: ignore[no-untyped-def]
    with tenant_context(tenant):
        return [(e.type, dict(e.data)) for e in ledger_read_stream(stream_id=MEMBERS_STREAM)]


def _as(client, tenant, role: str, username: str):  # type: ignore[no-untyped-def]
    user = UserFactory(username=username)
    membership(user=user, tenant=tenant, role=role)
    client.force_login(user)
    second_factor_verified(client, user)
    return user


def test_finding_5_admin_cannot_make_a_compliance_officer_alone(client, acme_us):
    _as(client, acme_us, Role.ADMIN, "alice-admin")
    assert client.post("/settings/members/", NEW_OFFICER).status_code == 302
    # No membership, no compliance access: a request waits for a second person.
    assert not Membership.objects.filter(user__username="casey").exists()
    grant = RoleGrant.objects.get(user__username="casey")
    assert (grant.status, grant.role) == ("pending", Role.COMPLIANCE_OFFICER)
    assert (
        client.post(f"/settings/role-requests/{grant.id}/", {"decision": "approve"}).status_code
        == 403
    )
    grant.refresh_from_db()
    assert grant.status == "pending"
    # A compliance officer approves it.
    client.logout()
    _as(client, acme_us, Role.COMPLIANCE_OFFICER, "olga-officer")
    page = client.get("/settings/role-requests/").content.decode()
    assert "casey" in page
    assert "alice-admin" in page
    assert (
        client.post(f"/settings/role-requests/{grant.id}/", {"decision": "approve"}).status_code
        == 302
    )
    assert Membership.objects.get(user__username="casey").role == Role.COMPLIANCE_OFFICER
    assert _members_events(acme_us) == [
        (
            "member.role_grant_requested",
            {
                "grant_id": str(grant.id),
                "username": "casey",
                "role": "compliance_officer",
                "by": "alice-admin",
            },
        ),
        (
            "member.role_grant_decided",
            {
                "grant_id": str(grant.id),
                "username": "casey",
                "role": "compliance_officer",
                "requested_by": "alice-admin",
                "decision": "approved",
                "by": "olga-officer",
            },
        ),
        (
            "member.added",
            {
                "username": "casey",
                "role": "compliance_officer",
                "by": "alice-admin",
                "approved_by": "olga-officer",
            },
        ),
    ]


def test_finding_5_second_admin_approval_when_the_tenant_chooses_it(client, acme_us):
    acme_us.policies = {**acme_us.policies, "role_grant_approval": "second_admin"}
    acme_us.save()
    _as(client, acme_us, Role.ADMIN, "alice-admin")
    sam = membership(user=UserFactory(username="sam"), tenant=acme_us, role=Role.AGENT)
    assert (
        client.post(f"/settings/members/{sam.id}/role/", {"role": Role.AUDITOR}).status_code == 302
    )
    # Where a second admin approves, the admin role itself needs approval too (no puppets).
    dan = membership(user=UserFactory(username="dan"), tenant=acme_us, role=Role.AGENT)
    client.post(f"/settings/members/{dan.id}/role/", {"role": Role.ADMIN})
    sam.refresh_from_db()
    dan.refresh_from_db()
    assert (sam.role, dan.role) == (Role.AGENT, Role.AGENT)
    grant = RoleGrant.objects.get(user__username="sam")
    client.logout()
    _as(client, acme_us, Role.ADMIN, "bob-admin")
    assert (
        client.post(f"/settings/role-requests/{grant.id}/", {"decision": "approve"}).status_code
        == 302
    )
    sam.refresh_from_db()
    assert sam.role == Role.AUDITOR
    assert _members_events(acme_us)[-1] == (
        "member.role_changed",
        {
            "username": "sam",
            "old_role": "agent",
            "new_role": "auditor",
            "by": "alice-admin",
            "approved_by": "bob-admin",
        },
    )


def test_finding_5_role_changes_and_removals_are_events_by_username(client, acme_us):
    _as(client, acme_us, Role.ADMIN, "alice-admin")
    sam = membership(user=UserFactory(username="sam"), tenant=acme_us, role=Role.AGENT)
    client.post(f"/settings/members/{sam.id}/role/", {"role": Role.SUPERVISOR})
    client.post(f"/settings/members/{sam.id}/remove/")
    assert _members_events(acme_us) == [
        (
            "member.role_changed",
            {
                "username": "sam",
                "old_role": "agent",
                "new_role": "supervisor",
                "by": "alice-admin",
                "approved_by": None,
            },
        ),
        ("member.removed", {"username": "sam", "role": "supervisor", "by": "alice-admin"}),
    ]
    # The audit trail shows them by username.
    client.logout()
    _as(client, acme_us, Role.COMPLIANCE_OFFICER, "olga-officer")
    page = client.get("/compliance/audit/", {"type": "member.removed"}).content.decode()
    assert "member.removed" in page
    assert "sam" in page
    assert "alice-admin" in page


def test_finding_5_a_compliance_officer_chooses_the_approval_policy(acme_us):
    from compliance.policies import role_grant_approval_policy_update

    officer = membership(user=UserFactory(), tenant=acme_us, role=Role.COMPLIANCE_OFFICER)
    admin = membership(user=UserFactory(), tenant=acme_us, role=Role.ADMIN)
    with tenant_context(acme_us):
        with pytest.raises(PermissionDenied):
            role_grant_approval_policy_update(actor=admin, mode="second_admin")
        with pytest.raises(ValidationError, match="role_grant_approval must be one of"):
            role_grant_approval_policy_update(actor=officer, mode="anyone")
        updated = role_grant_approval_policy_update(actor=officer, mode="second_admin")
        changes = ledger_read_stream(stream_id="compliance-policies")
    assert updated["role_grant_approval"] == "second_admin"
    assert [(e.data["old"], e.data["new"]) for e in changes] == [
        ({"role_grant_approval": "compliance_officer"}, {"role_grant_approval": "second_admin"})
    ]

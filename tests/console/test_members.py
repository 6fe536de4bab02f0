from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from callseal.tenancy.models import Membership, Role
from tests.conftest import ALL_DATABASES
from tests.factories import UserFactory, membership

pytestmark = pytest.mark.django_db(databases=ALL_DATABASES)


def test_admin_adds_a_new_user_with_a_role(client, login_as, acme_us):
    login_as(acme_us, Role.ADMIN)
    response = client.post(
        "/settings/members/",
        {
            "username": "casey",
            "email": "casey@example.com",
            "role": Role.SUPERVISOR,
            "password": "a-long-unusual-passphrase",
        },
    )
    assert response.status_code == 302
    added = Membership.objects.get(user__username="casey")
    assert (added.tenant_id, added.role) == (acme_us.id, Role.SUPERVISOR)
    assert (
        get_user_model().objects.get(username="casey").check_password("a-long-unusual-passphrase")
    )


def test_weak_password_and_bad_email_are_refused_with_messages(client, login_as, acme_us):
    login_as(acme_us, Role.ADMIN)
    response = client.post(
        "/settings/members/",
        {"username": "weak", "email": "not-an-email", "role": Role.AGENT, "password": "123"},
    )
    assert response.status_code == 400
    assert b"Enter a valid email address." in response.content
    response = client.post(
        "/settings/members/",
        {"username": "weak", "email": "w@example.com", "role": Role.AGENT, "password": "123"},
    )
    assert response.status_code == 400
    assert b"This password is too short." in response.content
    assert not get_user_model().objects.filter(username="weak").exists()


def test_the_last_admin_cannot_be_demoted_or_removed(client, login_as, acme_us):
    admin = login_as(acme_us, Role.ADMIN)
    mine = Membership.objects.get(user=admin)
    client.post(f"/settings/members/{mine.id}/role/", {"role": Role.AGENT})
    client.post(f"/settings/members/{mine.id}/remove/")
    mine.refresh_from_db()
    assert mine.role == Role.ADMIN
    page = client.get("/settings/members/").content.decode()
    assert "a tenant must keep at least one admin" in page


def test_admin_changes_a_role_and_removes_a_member(client, login_as, acme_us):
    login_as(acme_us, Role.ADMIN)
    other = membership(user=UserFactory(username="sam"), tenant=acme_us, role=Role.AGENT)
    assert (
        client.post(f"/settings/members/{other.id}/role/", {"role": Role.SUPERVISOR}).status_code
        == 302
    )
    other.refresh_from_db()
    assert other.role == Role.SUPERVISOR
    client.post(f"/settings/members/{other.id}/remove/")
    assert not Membership.objects.filter(id=other.id).exists()
    assert get_user_model().objects.filter(username="sam").exists()


@pytest.mark.parametrize(
    "role", [Role.SUPERVISOR, Role.AGENT, Role.COMPLIANCE_OFFICER, Role.AUDITOR]
)
def test_only_admins_manage_members(client, login_as, acme_us, role):
    login_as(acme_us, role)
    target = membership(user=UserFactory(), tenant=acme_us, role=Role.AGENT)
    assert client.get("/settings/members/").status_code == 403
    assert (
        client.post(f"/settings/members/{target.id}/role/", {"role": Role.ADMIN}).status_code == 403
    )
    target.refresh_from_db()
    assert target.role == Role.AGENT


def test_an_invalid_role_is_refused(client, login_as, acme_us):
    login_as(acme_us, Role.ADMIN)
    other = membership(user=UserFactory(), tenant=acme_us, role=Role.AGENT)
    client.post(f"/settings/members/{other.id}/role/", {"role": "god"})
    other.refresh_from_db()
    assert other.role == Role.AGENT

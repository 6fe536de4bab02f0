"""Issue 22 finding 6: sign-in throttling with lockout events and unlocks, and the TOTP
second factor for admins and compliance roles."""

from __future__ import annotations

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from callseal.ledger.selectors import ledger_read_stream
from callseal.tenancy.context import tenant_context
from callseal.tenancy.events import SECURITY_STREAM
from callseal.tenancy.models import Membership, Role
from tests.conftest import ALL_DATABASES
from tests.factories import UserFactory, membership, totp_code

pytestmark = pytest.mark.django_db(databases=ALL_DATABASES)
PASSWORD = "correct horse battery"


def _security_events(tenant) -> list[tuple[str, dict]]:  # type: ignore[no-untyped-def]
    with tenant_context(tenant):
        return [(e.type, dict(e.data)) for e in ledger_read_stream(stream_id=SECURITY_STREAM)]


def test_finding_6_hundred_wrong_passwords_lock_the_account(client, acme_us, settings):
    settings.LOGIN_IP_FREE_FAILURES = 1000  # this test is about the account
    user = UserFactory(username="sam")
    membership(user=user, tenant=acme_us, role=Role.SUPERVISOR)
    for _ in range(100):
        client.post("/login/", {"username": "sam", "password": "wrong guess"})
    response = client.post("/login/", {"username": "sam", "password": PASSWORD})
    assert response.status_code == 429
    assert "Too many failed sign-ins" in response.content.decode()
    assert "_auth_user_id" not in client.session
    events = _security_events(acme_us)
    assert [(t, d["username"], d["failures"]) for t, d in events] == [
        ("security.login_locked", "sam", 6)
    ]
    # Visible to the tenant's admin, who unlocks it; then the right password works.
    admin = UserFactory(username="alice-admin")
    membership(user=admin, tenant=acme_us, role=Role.ADMIN)
    other = client_for(admin)
    page = other.get("/settings/members/").content.decode()
    assert "Locked sign-ins" in page
    assert "Unlock sam" in page
    sam = Membership.objects.get(user=user)
    assert other.post(f"/settings/members/{sam.id}/unlock/").status_code == 302
    assert _security_events(acme_us)[-1] == (
        "security.login_unlocked",
        {"username": "sam", "by": "alice-admin"},
    )
    assert client.post("/login/", {"username": "sam", "password": PASSWORD}).status_code == 302


def client_for(user):  # type: ignore[no-untyped-def]
    from django.test import Client

    from tests.factories import second_factor_verified

    browser = Client()
    browser.force_login(user)
    second_factor_verified(browser, user)
    return browser


def test_finding_6_one_address_guessing_many_accounts_is_locked(client, settings):
    settings.LOGIN_IP_FREE_FAILURES = 20
    UserFactory(username="victim")
    for n in range(21):
        client.post("/login/", {"username": f"guess{n}", "password": "wrong"})
    response = client.post("/login/", {"username": "victim", "password": PASSWORD})
    assert response.status_code == 429


def test_finding_6_admin_needs_a_verified_second_factor(client, acme_us):
    user = UserFactory(username="alice-admin")
    membership(user=user, tenant=acme_us, role=Role.ADMIN)
    assert (
        client.post("/login/", {"username": "alice-admin", "password": PASSWORD}).status_code == 302
    )
    for url in ("/", "/settings/members/", "/calls/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"] == f"/account/two-factor/setup/?next={url}"
    setup = client.get("/account/two-factor/setup/").content.decode()
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    assert "<svg" in setup
    assert device.config_url.split("secret=")[1].split("&")[0] in setup
    assert client.post("/account/two-factor/setup/", {"token": "12ab"}).status_code == 400
    assert client.get("/settings/members/").status_code == 302
    done = client.post(
        "/account/two-factor/setup/", {"token": totp_code(device), "next": "/calls/"}
    )
    assert (done.status_code, done["Location"]) == (302, "/calls/")
    assert client.get("/settings/members/").status_code == 200
    # Next sign-in: verification, and no second enrolment from an unverified session.
    client.logout()
    client.post("/login/", {"username": "alice-admin", "password": PASSWORD})
    assert client.get("/")["Location"] == "/account/two-factor/?next=/"
    assert client.get("/account/two-factor/setup/")["Location"] == "/account/two-factor/"
    assert client.post("/account/two-factor/", {"token": "123456"}).status_code == 400
    assert client.get("/").status_code == 302


def test_finding_6_agents_and_supervisors_need_no_second_factor(client, acme_us):
    user = UserFactory(username="sue")
    membership(user=user, tenant=acme_us, role=Role.SUPERVISOR)
    client.post("/login/", {"username": "sue", "password": PASSWORD})
    assert client.get("/calls/").status_code == 200

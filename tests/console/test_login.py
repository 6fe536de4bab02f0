from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.conftest import ALL_DATABASES
from tests.factories import totp_code

pytestmark = pytest.mark.django_db(databases=ALL_DATABASES)


def test_both_demo_admins_can_log_in(client, monkeypatch):
    monkeypatch.setenv("CALLSEAL_DEMO_PASSWORD", "demo-password-for-tests")
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert "acme-us-admin" in out.getvalue()
    assert "acme-eu-compliance" in out.getvalue()
    for slug, region in (("acme-us", "us"), ("acme-eu", "eu")):
        client.logout()
        response = client.post(
            "/login/", {"username": f"{slug}-admin", "password": "demo-password-for-tests"}
        )
        assert response.status_code == 302
        assert response["Location"] == "/"
        held = client.get("/")
        assert (held.status_code, held["Location"]) == (302, "/account/two-factor/setup/?next=/")
        assert b"Set up two-factor sign-in" in client.get(held["Location"]).content
        device = TOTPDevice.objects.get(user__username=f"{slug}-admin", confirmed=False)
        done = client.post(held["Location"], {"token": totp_code(device), "next": "/"})
        assert (done.status_code, done["Location"]) == (302, "/")
        home = client.get("/").content.decode()
        assert f"region <strong>{region}</strong>" in home


def test_seed_demo_is_idempotent(monkeypatch):
    from calls.models import PhoneNumber
    from callseal.tenancy.models import Membership, Tenant

    monkeypatch.setenv("CALLSEAL_DEMO_PASSWORD", "demo-password-for-tests")
    call_command("seed_demo", stdout=StringIO())
    call_command("seed_demo", stdout=StringIO())
    assert Tenant.objects.count() == 2
    assert Membership.objects.count() == 4
    assert sorted(PhoneNumber.objects.values_list("e164", flat=True)) == [
        "+14155550100",
        "+493055510000",
    ]


def test_wrong_password_is_refused_with_a_clear_message(client):
    response = client.post("/login/", {"username": "nobody", "password": "x"})
    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content


def test_login_page_sets_secure_headers(client):
    response = client.get("/login/")
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response.cookies["csrftoken"]["httponly"] is True
    assert response.cookies["csrftoken"]["samesite"] == "Lax"

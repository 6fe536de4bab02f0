"""From the login page to each demo tenant's dashboard, in a real browser."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from tests.conftest import ALL_DATABASES

pytestmark = pytest.mark.django_db(databases=ALL_DATABASES, transaction=True)
PASSWORD = "browser-demo-password"


@pytest.fixture
def demo(monkeypatch):
    monkeypatch.setenv("CALLSEAL_DEMO_PASSWORD", PASSWORD)
    call_command("seed_demo", stdout=StringIO())


def _log_in(page, base: str, username: str, password: str = PASSWORD) -> None:
    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def test_both_demo_admins_log_in_and_see_their_region(demo, page, live_server_url, screenshot):
    for username, tenant, region in (
        ("acme-us-admin", "Acme Inc. (US)", "us"),
        ("acme-eu-admin", "Acme GmbH (EU)", "eu"),
    ):
        _log_in(page, live_server_url, username)
        assert page.get_by_role("heading", level=1).inner_text() == tenant
        assert f"data resides in region {region}" in page.locator("p.meta").inner_text()
        screenshot(page, f"dashboard-{region}")
        page.get_by_role("button", name="Log out").click()
        assert page.url == f"{live_server_url}/login/"


def test_wrong_password_shows_an_error_in_the_page(demo, page, live_server_url):
    _log_in(page, live_server_url, "acme-us-admin", "not the password")
    assert "Please enter a correct username and password" in page.get_by_role("alert").inner_text()


def test_admin_adds_a_member_from_the_settings_page(demo, page, live_server_url, screenshot):
    _log_in(page, live_server_url, "acme-us-admin")
    page.get_by_role("link", name="Settings").click()
    page.get_by_role("link", name="Users and roles").click()
    page.get_by_label("Username").fill("new-supervisor")
    page.get_by_label("Email").fill("new-supervisor@example.com")
    page.get_by_label("Role", exact=True).select_option("supervisor")
    page.get_by_label("Password").fill("another-long-passphrase")
    page.get_by_role("button", name="Add member").click()
    assert "Added new-supervisor." in page.get_by_role("status").inner_text()
    assert page.get_by_label("Role of new-supervisor").input_value() == "supervisor"
    screenshot(page, "members")

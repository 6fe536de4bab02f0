"""From the login page to each demo tenant's dashboard, in a real browser."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from tests.browser.two_factor import pass_second_factor
from tests.conftest import ALL_DATABASES

pytestmark = pytest.mark.django_db(databases=ALL_DATABASES, transaction=True)
PASSWORD = "browser-demo-password"


@pytest.fixture
def demo(monkeypatch):
    monkeypatch.setenv("CALLSEAL_DEMO_PASSWORD", PASSWORD)
    call_command("seed_demo", stdout=StringIO())


def _password(page, base: str, username: str, password: str = PASSWORD) -> None:
    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def _log_in(page, base: str, username: str, password: str = PASSWORD) -> None:
    _password(page, base, username, password)
    pass_second_factor(page, base, username)


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
    _password(page, live_server_url, "acme-us-admin", "not the password")
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


def test_admin_enrols_a_second_factor_then_verifies_it(demo, page, live_server_url, screenshot):
    """Issue 22 finding 6: an admin's password alone does not open the console."""
    _password(page, live_server_url, "acme-us-admin")
    page.wait_for_url(f"{live_server_url}/account/two-factor/setup/?next=/")
    assert page.locator("figure svg").count() == 1
    screenshot(page, "two-factor-setup")
    page.get_by_label("Authentication code").fill("000000")
    page.get_by_role("button", name="Confirm").click()
    assert "That code is not right" in page.get_by_role("alert").inner_text()
    page.goto(f"{live_server_url}/calls/")
    assert page.url.startswith(f"{live_server_url}/account/two-factor/setup/")
    pass_second_factor(page, live_server_url, "acme-us-admin")
    page.wait_for_url(f"{live_server_url}/calls/")
    page.get_by_role("button", name="Log out").click()
    _password(page, live_server_url, "acme-us-admin")
    page.wait_for_url(f"{live_server_url}/account/two-factor/?next=/")
    pass_second_factor(page, live_server_url, "acme-us-admin")
    page.wait_for_url(f"{live_server_url}/")
    assert page.get_by_role("heading", level=1).inner_text() == "Acme Inc. (US)"


def test_repeated_wrong_passwords_lock_the_sign_in(demo, page, live_server_url):
    """Issue 22 finding 6: the lock is explained in the page."""
    for _ in range(6):
        _password(page, live_server_url, "acme-eu-admin", "not the password")
    _password(page, live_server_url, "acme-eu-admin")
    assert "Too many failed sign-ins" in page.get_by_role("alert").inner_text()

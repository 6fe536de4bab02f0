"""The phone numbers page in a real browser against a real daphne, whose Twilio REST API is
the spec-checking stand-in (issue 21 item 6; issue 22 finding 1)."""

from __future__ import annotations

from collections.abc import Iterator
from io import StringIO

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from calls.models import PhoneNumber
from callseal.ledger.selectors import ledger_read_stream
from callseal.tenancy.context import tenant_context
from callseal.tenancy.models import Tenant
from tests.browser.two_factor import log_in
from tests.conftest import ALL_DATABASES
from tests.live import serve_asgi
from tests.twilio_standin import TwilioStandIn

pytestmark = pytest.mark.django_db(databases=ALL_DATABASES, transaction=True)
PASSWORD = "browser-demo-password"
ACCOUNT = "AC" + "7" * 32
TOKEN = "7" * 32
PUBLIC = "http://calls.example.test"


@pytest.fixture(scope="module")
def twilio() -> Iterator[TwilioStandIn]:
    standin = TwilioStandIn({ACCOUNT: TOKEN}, numbers={ACCOUNT: ["+14155550142"]})
    server, url = standin.serve()
    standin.url = url  # type: ignore[attr-defined]
    yield standin
    server.shutdown()


@pytest.fixture(scope="module")
def live_server_url(django_db_setup, twilio) -> Iterator[str]:  # type: ignore[no-untyped-def]
    env = {"CALLSEAL_TWILIO_API_BASE_URL": twilio.url, "CALLSEAL_PUBLIC_BASE_URL": PUBLIC}
    with serve_asgi(env) as url:
        yield url


@pytest.fixture
def demo(monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CALLSEAL_DEMO_PASSWORD", PASSWORD)
    call_command("seed_demo", stdout=StringIO())


def _log_in(page, base: str, username: str) -> None:  # type: ignore[no-untyped-def]
    log_in(page, base, username, PASSWORD)


def test_an_eu_admin_adds_edits_and_removes_a_us_number(
    demo, page, live_server_url, twilio, screenshot
):
    us_number = PhoneNumber.objects.get(tenant__slug="acme-us").e164
    _log_in(page, live_server_url, "acme-eu-admin")
    page.goto(f"{live_server_url}/settings/numbers/")
    # The URLs to paste into Twilio, with copy buttons.
    assert page.locator("#webhook-voice").inner_text() == f"{PUBLIC}/twilio/voice"
    assert page.locator("#webhook-status").inner_text() == f"{PUBLIC}/twilio/status"
    copy = page.get_by_role("button", name="Copy the voice webhook URL")
    copy.click()
    expect(copy).to_have_text("Copied")  # the copy finishes asynchronously
    # Another tenant's number never appears.
    assert us_number not in page.content()

    form = page.locator("form", has=page.get_by_role("button", name="Add number"))
    form.get_by_label("Number (E.164)").fill("+14155550142")
    form.get_by_label("Label").fill("US callers")
    form.get_by_label("Twilio account SID").fill(ACCOUNT)
    form.get_by_label("Twilio auth token").fill(TOKEN)
    form.get_by_role("button", name="Add number").click()
    expect(page.locator(".warning[role=alert]")).to_contain_text(
        "+14155550142 is a number of US, but this tenant's data lives in region EU"
    )
    assert not PhoneNumber.objects.filter(e164="+14155550142").exists()
    screenshot(page, "numbers-jurisdiction-warning")
    page.get_by_label("Add it anyway").check()
    page.get_by_label("Twilio auth token").fill(TOKEN)  # never sent back to the browser
    page.get_by_role("button", name="Add number").click()
    expect(page.get_by_role("status")).to_contain_text("Added +14155550142.")
    assert [(r.method, r.errors) for r in twilio.requests] == [("GET", []), ("GET", [])]

    page.get_by_text("Edit +14155550142").click()
    page.locator("input[name=label]").first.fill("US support")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("status")).to_contain_text("Saved +14155550142.")
    expect(page.get_by_role("cell", name="US support")).to_be_visible()
    screenshot(page, "numbers")

    page.get_by_text("Edit +14155550142").click()
    page.get_by_label("Stop answering +14155550142").check()
    page.get_by_role("button", name="Remove +14155550142").click()
    expect(page.get_by_role("status")).to_contain_text("Removed +14155550142.")
    assert not PhoneNumber.objects.filter(e164="+14155550142").exists()
    tenant = Tenant.objects.get(slug="acme-eu")
    with tenant_context(tenant):
        streams = {
            e.type for e in ledger_read_stream(stream_id="phone-number-" + _removed_id(tenant))
        }
    assert streams == {
        "phone_number.added",
        "phone_number.credentials_changed",
        "phone_number.updated",
        "phone_number.removed",
    }


def _removed_id(tenant: Tenant) -> str:
    """The removed number's id, from its removal event (the row is gone)."""
    from callseal.ledger.models import Event

    with tenant_context(tenant):
        row = Event.objects.filter(type="phone_number.removed").get()
    return str(row.stream_id).removeprefix("phone-number-")

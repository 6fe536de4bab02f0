from __future__ import annotations

import pytest
from django.utils import timezone

from agents.services import agent_create
from agents.spec import AgentSpec
from calls.credentials import open_auth_token
from calls.models import Call, PhoneNumber
from calls.services import phone_number_configure
from callseal.ledger.selectors import ledger_read_stream
from callseal.tenancy.context import tenant_context
from callseal.tenancy.models import Role
from tests.conftest import ALL_DATABASES
from tests.factories import UserFactory, membership
from tests.twilio_standin import TwilioStandIn

pytestmark = pytest.mark.django_db(databases=ALL_DATABASES)
TOKEN = "0123456789abcdef0123456789abcdef"
SID = "AC" + "1" * 32


@pytest.fixture(autouse=True)
def twilio(settings):
    """Twilio's REST API (the spec-checking stand-in): the account owns these numbers."""
    standin = TwilioStandIn(
        {SID: TOKEN, "AC" + "2" * 32: "e" * 32},
        numbers={SID: ["+14155550123", "+493055510000"], "AC" + "2" * 32: ["+14155550124"]},
    )
    server, url = standin.serve()
    settings.CALLSEAL_TWILIO_API_BASE_URL = url
    yield standin
    server.shutdown()


def _agent(tenant, name="Desk"):
    admin = membership(user=UserFactory(), tenant=tenant, role=Role.ADMIN)
    with tenant_context(tenant):
        return agent_create(actor=admin, spec=AgentSpec(name=name, system_prompt="p", greeting="g"))


def _form(**changes):
    return {
        "e164": "+14155550123",
        "label": "Sales",
        "twilio_account_sid": SID,
        "auth_token": TOKEN,
        "agent": "",
        **changes,
    }


def test_admin_adds_a_number_with_a_sealed_token_and_an_agent(client, login_as, acme_us):
    agent = _agent(acme_us)
    login_as(acme_us, Role.ADMIN)
    response = client.post("/settings/numbers/", _form(agent=str(agent.id)))
    assert response.status_code == 302
    number = PhoneNumber.objects.get(e164="+14155550123")
    assert (number.tenant_id, number.agent_id) == (acme_us.id, agent.id)
    assert TOKEN not in number.twilio_auth_token_sealed
    assert open_auth_token(sealed=number.twilio_auth_token_sealed, account_sid=SID) == TOKEN


def test_a_number_is_unique_across_tenants_without_saying_whose(client, login_as, acme_us, acme_eu):
    PhoneNumber.objects.create(tenant=acme_eu, e164="+14155550123")
    login_as(acme_us, Role.ADMIN)
    response = client.post("/settings/numbers/", _form())
    assert response.status_code == 400
    assert "+14155550123 is already registered" in response.content.decode()
    assert "acme-eu" not in response.content.decode()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"e164": "4155550123"}, "an E.164 number"),
        ({"twilio_account_sid": "AC123"}, "a Twilio account SID"),
        ({"auth_token": "short"}, "Ensure this value has at least 32 characters"),
        ({"auth_token": "Z" * 32}, "32 lower-case hex digits"),
    ],
)
def test_bad_input_is_refused_with_a_message(client, login_as, acme_us, changes, message):
    login_as(acme_us, Role.ADMIN)
    response = client.post("/settings/numbers/", _form(**changes))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not PhoneNumber.objects.exists()


def test_another_tenants_agent_cannot_be_attached(client, login_as, acme_us, acme_eu):
    foreign_agent = _agent(acme_eu)
    number = PhoneNumber.objects.create(tenant=acme_us, e164="+14155550199")
    login_as(acme_us, Role.ADMIN)
    client.post(f"/settings/numbers/{number.id}/agent/", {"agent": str(foreign_agent.id)})
    number.refresh_from_db()
    assert number.agent_id is None
    own = _agent(acme_us, "Own")
    client.post(f"/settings/numbers/{number.id}/agent/", {"agent": str(own.id)})
    number.refresh_from_db()
    assert number.agent_id == own.id


def test_supervisors_cannot_manage_numbers(client, login_as, acme_us):
    number = PhoneNumber.objects.create(tenant=acme_us, e164="+14155550199")
    login_as(acme_us, Role.SUPERVISOR)
    assert client.get("/settings/numbers/").status_code == 403
    assert client.post(f"/settings/numbers/{number.id}/agent/", {"agent": ""}).status_code == 403


def test_an_eu_tenant_adding_a_us_number_confirms_first(client, login_as, acme_eu):
    login_as(acme_eu, Role.ADMIN)
    response = client.post("/settings/numbers/", _form())
    assert response.status_code == 409
    page = response.content.decode()
    assert "+14155550123 is a number of US, but this tenant&#x27;s data lives in region EU" in page
    assert TOKEN not in page  # the token is typed again, never echoed
    assert not PhoneNumber.objects.exists()
    response = client.post("/settings/numbers/", _form(confirm_jurisdiction="yes"))
    assert response.status_code == 302
    assert PhoneNumber.objects.get().tenant_id == acme_eu.id


def test_a_us_tenant_adding_an_eu_number_confirms_first(client, login_as, acme_us):
    login_as(acme_us, Role.ADMIN)
    response = client.post("/settings/numbers/", _form(e164="+493055510000"))
    assert response.status_code == 409
    assert "+493055510000 is a number of DE" in response.content.decode()


def test_edit_and_remove_are_events_and_removal_waits_for_live_calls(client, login_as, acme_us):
    number = PhoneNumber.objects.create(tenant=acme_us, e164="+14155550123", label="Sales")
    phone_number_configure(phone_number=number, account_sid=SID, auth_token=TOKEN)
    login_as(acme_us, Role.ADMIN)
    response = client.post(
        f"/settings/numbers/{number.id}/edit/",
        {"label": "Support", "twilio_account_sid": SID, "auth_token": ""},
    )
    assert response.status_code == 302
    number.refresh_from_db()
    assert number.label == "Support"
    with tenant_context(acme_us):
        Call.objects.create(
            tenant_id=acme_us.id,
            twilio_call_sid="CA" + "0" * 32,
            to_number=number.e164,
            from_masked="**",
            region="us",
            started_at=timezone.now(),
            phone_number_id=number.id,
        )
    response = client.post(
        f"/settings/numbers/{number.id}/remove/", {"confirm": "yes"}, follow=True
    )
    assert "+14155550123 has 1 call in progress" in response.content.decode()
    assert PhoneNumber.objects.filter(id=number.id).exists()
    with tenant_context(acme_us):
        Call.objects.update(status="completed")
    client.post(f"/settings/numbers/{number.id}/remove/", {"confirm": "yes"})
    assert not PhoneNumber.objects.filter(id=number.id).exists()
    with tenant_context(acme_us):
        events = ledger_read_stream(stream_id=f"phone-number-{number.id}")
    assert [e.type for e in events] == ["phone_number.updated", "phone_number.removed"]


def test_another_tenants_numbers_never_appear(client, login_as, acme_us, acme_eu):
    PhoneNumber.objects.create(tenant=acme_eu, e164="+493055510000", label="Berlin desk")
    PhoneNumber.objects.create(tenant=acme_us, e164="+14155550123", label="Sales")
    login_as(acme_us, Role.ADMIN)
    page = client.get("/settings/numbers/").content.decode()
    assert "+14155550123" in page
    assert "+493055510000" not in page
    assert "Berlin desk" not in page


def test_the_page_shows_the_webhook_urls_to_paste_into_twilio(client, login_as, acme_us, settings):
    settings.PUBLIC_BASE_URL = "https://calls.example.com"
    login_as(acme_us, Role.ADMIN)
    page = client.get("/settings/numbers/").content.decode()
    assert '<code id="webhook-voice">https://calls.example.com/twilio/voice</code>' in page
    assert '<code id="webhook-status">https://calls.example.com/twilio/status</code>' in page

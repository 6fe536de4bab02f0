from __future__ import annotations

import pytest

from agents.services import agent_create
from agents.spec import AgentSpec
from calls.credentials import open_auth_token
from calls.models import PhoneNumber
from callseal.tenancy.context import tenant_context
from callseal.tenancy.models import Role
from tests.conftest import ALL_DATABASES
from tests.factories import UserFactory, membership

pytestmark = pytest.mark.django_db(databases=ALL_DATABASES)
TOKEN = "0123456789abcdef0123456789abcdef"
SID = "AC" + "1" * 32


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

"""seed_demo gives each demo tenant's number a realistic AI agent, through the agent
services (versioned configuration, ``agent.configured`` events), idempotently."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command

from agents.demo import DEMO_AGENTS
from agents.models import AgentConfig
from agents.services import agent_create
from agents.spec import AgentSpec, agent_spec_validate
from calls.models import PhoneNumber
from callseal.ledger.models import Event
from callseal.tenancy.context import tenant_context
from callseal.tenancy.models import Membership, Tenant
from tests.conftest import ALL_DATABASES

pytestmark = pytest.mark.django_db(databases=ALL_DATABASES)


@pytest.fixture(autouse=True)
def _password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLSEAL_DEMO_PASSWORD", "demo-password-for-tests")


def _ledger(slug: str) -> list[tuple[str, str, str]]:
    tenant = Tenant.objects.get(slug=slug)
    with tenant_context(tenant):
        rows = Event.objects.filter(tenant_id=tenant.id).order_by("sequence")
        return [(e.stream_id, e.type, json.loads(e.metadata)["actor"]) for e in rows]


def _agents() -> list[tuple[str, str, int]]:
    out = []
    for tenant in Tenant.objects.order_by("slug"):
        with tenant_context(tenant):
            rows = AgentConfig.objects.filter(tenant_id=tenant.id).order_by("name")
            out += [(tenant.slug, str(a.id), a.version) for a in rows]
    return out


def test_each_demo_number_is_answered_by_its_tenants_demo_agent_at_version_1():
    call_command("seed_demo", stdout=StringIO())
    for slug, e164 in (("acme-us", "+14155550100"), ("acme-eu", "+493055510000")):
        tenant = Tenant.objects.get(slug=slug)
        number = PhoneNumber.objects.get(e164=e164)
        with tenant_context(tenant):
            agent = AgentConfig.objects.get(tenant_id=tenant.id)
            assert number.agent_id == agent.id
            assert (agent.name, agent.version) == (DEMO_AGENTS[slug].name, 1)
            assert AgentSpec.from_dict(agent.spec) == DEMO_AGENTS[slug]
        admin = Membership.objects.get(tenant=tenant, user__username=f"{slug}-admin")
        # The agent's first version, then attaching it to the number (a number change).
        assert _ledger(slug) == [
            (f"agent-{agent.id}", "agent.configured", f"user:{admin.user_id}"),
            (f"phone-number-{number.id}", "phone_number.updated", f"user:{admin.user_id}"),
        ]
    # Two different businesses, each with a knowledge base and the default tools.
    us, eu = DEMO_AGENTS["acme-us"], DEMO_AGENTS["acme-eu"]
    assert "Acme Store" in us.greeting
    assert "Acme Bikes" in eu.greeting
    assert len(us.knowledge) == len(eu.knowledge) == 5
    assert us.tools == eu.tools == ("escalate_to_human", "end_call", "lookup")
    assert agent_spec_validate(us) is us
    assert agent_spec_validate(eu) is eu


def test_seeding_the_demo_again_changes_no_agent_and_appends_nothing():
    call_command("seed_demo", stdout=StringIO())
    before = {slug: _ledger(slug) for slug in DEMO_AGENTS}
    agents = _agents()
    assert [(slug, version) for slug, _, version in agents] == [("acme-eu", 1), ("acme-us", 1)]
    numbers = sorted(PhoneNumber.objects.values_list("e164", "agent_id"))
    call_command("seed_demo", stdout=StringIO())
    assert {slug: _ledger(slug) for slug in DEMO_AGENTS} == before
    assert _agents() == agents
    assert sorted(PhoneNumber.objects.values_list("e164", "agent_id")) == numbers


def test_an_agent_an_admin_attached_instead_is_kept_by_a_new_seed():
    call_command("seed_demo", stdout=StringIO())
    tenant = Tenant.objects.get(slug="acme-us")
    admin = Membership.objects.get(tenant=tenant, user__username="acme-us-admin")
    with tenant_context(tenant):
        spec = AgentSpec(name="Night line", system_prompt="Be brief.", greeting="Hi.")
        other = agent_create(actor=admin, spec=spec)
    PhoneNumber.objects.filter(e164="+14155550100").update(agent_id=other.id)
    call_command("seed_demo", stdout=StringIO())
    assert PhoneNumber.objects.get(e164="+14155550100").agent_id == other.id
    with tenant_context(tenant):
        assert AgentConfig.objects.filter(tenant_id=tenant.id).count() == 2

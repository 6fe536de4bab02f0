from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from agents.models import AgentConfig, AgentConfigVersion
from agents.services import agent_create, agent_update
from agents.spec import AgentSpec, AgentSpecError, KnowledgeEntry, agent_spec_validate
from callseal.ledger.projections import projection_rebuild
from callseal.ledger.selectors import ledger_read_stream
from callseal.ledger.store import ConcurrencyError
from callseal.tenancy.context import tenant_context
from callseal.tenancy.models import Role
from tests.conftest import ALL_DATABASES
from tests.factories import UserFactory, membership

SPEC = AgentSpec(
    name="Front desk",
    system_prompt="You answer questions about Acme.",
    greeting="Hello, you are speaking with Acme's assistant.",
)


def test_a_valid_spec_passes():
    assert agent_spec_validate(SPEC) is SPEC


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"name": " "}, "name", "is required."),
        ({"language": "de"}, "asr_model", "tiny.en does not understand German; choose base."),
        ({"language": "de", "asr_model": "base"}, "voice", "joe-us speaks English, not German."),
        ({"asr_model": "large"}, "asr_model", "must be one of base, tiny.en."),
        ({"end_of_speech_ms": 50}, "end_of_speech_ms", "from 200 to 3000"),
        ({"tools": ("end_call", "hack")}, "tools", "must be distinct tools"),
        (
            {"tools": ("end_call",), "knowledge": (KnowledgeEntry("q", "a"),)},
            "tools",
            "a knowledge base needs the lookup tool.",
        ),
        ({"knowledge": (KnowledgeEntry("q", " "),)}, "knowledge", "entry 1: answer is empty."),
        ({"greeting": "x" * 501}, "greeting", "at most 500 characters"),
    ],
)
def test_invalid_specs_name_the_field(changes, field, message):
    from dataclasses import replace

    with pytest.raises(AgentSpecError) as info:
        agent_spec_validate(replace(SPEC, **changes))
    assert field in info.value.errors
    assert any(message in problem for problem in info.value.errors[field])


@pytest.fixture
def admin(acme_us):
    return membership(user=UserFactory(), tenant=acme_us, role=Role.ADMIN)


@pytest.mark.django_db(databases=ALL_DATABASES)
def test_every_change_is_a_versioned_event(us_context, admin):
    from dataclasses import replace

    agent = agent_create(actor=admin, spec=SPEC)
    updated = agent_update(
        actor=admin, agent_id=agent.id, expected_version=1, spec=replace(SPEC, greeting="Hi there.")
    )
    assert (agent.version, updated.version) == (1, 2)
    events = ledger_read_stream(stream_id=f"agent-{agent.id}")
    assert [(e.type, e.data["version"]) for e in events] == [
        ("agent.configured", 1),
        ("agent.configured", 2),
    ]
    assert events[1].data["config"]["greeting"] == "Hi there."
    assert events[1].metadata["actor"] == f"user:{admin.user_id}"
    assert list(
        AgentConfigVersion.objects.filter(agent_id=agent.id).values_list("version", flat=True)
    ) == [2, 1]


@pytest.mark.django_db(databases=ALL_DATABASES)
def test_a_stale_edit_is_refused_not_overwritten(us_context, admin):
    agent = agent_create(actor=admin, spec=SPEC)
    agent_update(actor=admin, agent_id=agent.id, spec=SPEC, expected_version=1)
    with pytest.raises(ConcurrencyError):
        agent_update(actor=admin, agent_id=agent.id, spec=SPEC, expected_version=1)
    assert AgentConfig.objects.get(id=agent.id).version == 2


@pytest.mark.django_db(databases=ALL_DATABASES)
@pytest.mark.parametrize("role", [Role.SUPERVISOR, Role.AGENT, Role.COMPLIANCE_OFFICER])
def test_only_admins_configure_agents(us_context, acme_us, role):
    actor = membership(user=UserFactory(), tenant=acme_us, role=role)
    with pytest.raises(PermissionDenied):
        agent_create(actor=actor, spec=SPEC)
    assert not AgentConfig.objects.exists()


@pytest.mark.django_db(databases=ALL_DATABASES)
def test_invalid_spec_appends_nothing(us_context, admin):
    from dataclasses import replace

    from callseal.ledger.selectors import ledger_head_sequence

    before = ledger_head_sequence()
    with pytest.raises(AgentSpecError):
        agent_create(actor=admin, spec=replace(SPEC, voice="nobody"))
    assert ledger_head_sequence() == before


@pytest.mark.django_db(databases=ALL_DATABASES)
def test_read_models_rebuild_from_the_ledger(us_context, admin):
    from agents.projections import AgentConfigProjection

    agent = agent_create(actor=admin, spec=SPEC)
    AgentConfig.objects.all().delete()
    projection_rebuild(AgentConfigProjection())
    assert AgentConfig.objects.get(id=agent.id).spec["name"] == "Front desk"


@pytest.mark.django_db(databases=ALL_DATABASES)
def test_console_creates_and_edits_an_agent(client, login_as, acme_us):
    login_as(acme_us, Role.ADMIN)
    form = {
        "name": "Billing",
        "system_prompt": "Help with bills.",
        "greeting": "Hello!",
        "language": "en",
        "voice": "joe-us",
        "asr_model": "tiny.en",
        "llm_model": "smollm2-135m-instruct",
        "end_of_speech_ms": "600",
        "max_call_seconds": "900",
        "tools": ["lookup", "end_call"],
        "knowledge": "When are you open? | Nine to five, Monday to Friday.",
    }
    response = client.post("/agents/new/", form)
    assert response.status_code == 302
    with tenant_context(acme_us):
        agent = AgentConfig.objects.get(name="Billing")
    assert agent.spec["knowledge"] == [
        {"question": "When are you open?", "answer": "Nine to five, Monday to Friday."}
    ]
    page = client.get(f"/agents/{agent.id}/").content.decode()
    assert "v1" in page
    bad = client.post(f"/agents/{agent.id}/", {**form, "knowledge": "no separator", "version": "1"})
    assert bad.status_code == 400
    assert "line 1: write it as &#x27;question | answer&#x27;." in bad.content.decode()
    ok = client.post(f"/agents/{agent.id}/", {**form, "greeting": "Hi!", "version": "1"})
    assert ok.status_code == 302
    stale = client.post(f"/agents/{agent.id}/", {**form, "version": "1"})
    assert stale.status_code == 409
    assert "Someone else saved this agent meanwhile" in stale.content.decode()

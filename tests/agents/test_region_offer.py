"""The new-agent form offers what the tenant's region serves (issue 21, item 3)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from agents.catalog import region_offer
from agents.forms import AgentForm
from agents.models import AgentConfig
from agents.services import agent_create
from agents.spec import AgentSpec, AgentSpecError
from callseal.tenancy.context import tenant_context
from callseal.tenancy.models import Role
from tests.conftest import ALL_DATABASES
from tests.factories import UserFactory, membership

SPEC = AgentSpec(name="Desk", system_prompt="You help.", greeting="Hello.")


def _german_voice(tmp_path, monkeypatch, region: str = "eu") -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "de_DE-thorsten-medium.onnx").write_bytes(b"onnx")
    monkeypatch.setenv(f"REGION_{region.upper()}_PIPER_VOICES_DIR", str(tmp_path))


def test_with_only_an_english_voice_a_region_offers_english_alone():
    offer = region_offer("us")
    assert offer.languages == ("en",)
    assert [v.name for v in offer.voices] == ["joe-us"]
    assert [m.name for m in offer.asr_models] == ["tiny.en", "base"]
    assert offer.default_language == "en"


def test_an_installed_german_voice_adds_german_with_the_multilingual_model(tmp_path, monkeypatch):
    _german_voice(tmp_path, monkeypatch)
    assert region_offer("eu").languages == ("en", "de")
    assert region_offer("us").languages == ("en",)  # the eu region's voice only
    monkeypatch.setenv("INFERENCE_ASR_MODELS", "tiny.en")
    assert region_offer("eu").languages == ("en",)  # no loaded model understands German


def test_the_untouched_form_is_accepted_and_offers_no_language_the_region_lacks():
    form = AgentForm(offer=region_offer("us"))
    assert [c for c, _ in form.fields["language"].choices] == ["en"]
    assert (form["language"].value(), form["voice"].value(), form["asr_model"].value()) == (
        "en",
        "joe-us",
        "tiny.en",
    )
    data = {
        name: form[name].value() for name in ("language", "voice", "asr_model", "end_of_speech_ms")
    }
    # A browser submits a select's first option when nothing is chosen.
    data["llm_model"] = form.fields["llm_model"].choices[0][0]
    data.update(name="Desk", system_prompt="You help.", greeting="Hello.", max_call_seconds=900)
    bound = AgentForm(data, offer=region_offer("us"))
    assert bound.is_valid(), bound.errors
    assert bound.spec().language == "en"
    german = AgentForm({**data, "language": "de"}, offer=region_offer("us"))
    assert not german.is_valid()
    assert german.errors["language"] == [
        "Select a valid choice. de is not one of the available choices."
    ]


def test_a_region_with_no_voice_says_so(monkeypatch):
    monkeypatch.setenv("INFERENCE_ASR_MODELS", "")
    form = AgentForm({"name": "x"}, offer=region_offer("us"))
    assert not form.is_valid()
    assert "Region us has no voice with speech recognition" in form.non_field_errors()[0]


@pytest.mark.django_db(databases=ALL_DATABASES)
def test_the_service_refuses_a_language_the_region_cannot_serve(acme_eu, tmp_path, monkeypatch):
    admin = membership(user=UserFactory(), tenant=acme_eu, role=Role.ADMIN)
    with tenant_context(acme_eu), pytest.raises(AgentSpecError) as info:
        agent_create(actor=admin, spec=replace(SPEC, language="de", asr_model="base"))
    assert info.value.errors["language"] == [
        "region eu has no voice and speech recognition for German (it serves: English)."
    ]
    _german_voice(tmp_path, monkeypatch)
    with tenant_context(acme_eu):
        agent = agent_create(
            actor=admin,
            spec=replace(SPEC, language="de", asr_model="base", voice="de_DE-thorsten-medium"),
        )
        assert AgentConfig.objects.get(id=agent.id).spec["voice"] == "de_DE-thorsten-medium"

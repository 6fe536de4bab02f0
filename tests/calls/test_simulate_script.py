"""``simulate_calls --script`` end to end: the seeded demo, a real daphne with the us
region's inference service and llama.cpp server as subprocesses, and the command placing a
2-turn scripted call (espeak-ng caller lines through the 8 kHz μ-law line, consent by
keypad as the tenant's policy asks). What was heard comes from the ledger."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connections

from agents.demo import DEMO_AGENTS
from agents.voice.tools import best_entry, route_by_keywords
from calls.scripts import script_load
from calls.selectors import call_get_by_sid
from calls.services import call_events
from callseal.tenancy.context import tenant_context
from callseal.tenancy.models import Tenant
from tests.agents.voice_servers import base_env, daphne, inference_service, llm_server
from tests.conftest import ALL_DATABASES

ROOT = Path(__file__).resolve().parents[2]
STORE = {e.question: e.answer for e in DEMO_AGENTS["acme-us"].knowledge}


def test_the_shipped_demo_scripts_ask_their_agents_knowledge_in_the_callers_words():
    for slug in DEMO_AGENTS:
        spec = DEMO_AGENTS[slug]
        for scenario in script_load(ROOT / "demo" / f"{slug}.json"):
            for turn in scenario.turns:
                route = route_by_keywords(turn.caller, tools=spec.tools, knowledge=spec.knowledge)
                entry, _ = best_entry(turn.caller, spec.knowledge)
                assert route.tool == "lookup", turn.caller
                assert entry is not None
                assert entry.question == turn.expect["entry"]


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[str]:
    env = {
        **base_env(),
        # The no-audio watchdog (1.5 s) is a latency budget; on this shared machine a
        # whisper pass alone can take a second (tests/agents/test_voice_agent.py).
        "CALLSEAL_AGENT_NO_AUDIO_S": "8",
        "REGION_US_STORAGE_ROOT": str(tmp_path / "us"),
        "REGION_EU_STORAGE_ROOT": str(tmp_path / "eu"),
    }
    with (
        inference_service("us", env) as inference,
        llm_server(env) as llm,
        daphne(
            {**env, "REGION_US_INFERENCE_URL": inference.url, "REGION_US_LLM_URL": llm.url}
        ) as url,
    ):
        yield url
    connections.close_all()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True, databases=ALL_DATABASES)
def test_a_scripted_call_to_the_seeded_demo_reports_what_was_said_and_heard_per_turn(
    servers, tmp_path, monkeypatch
):
    monkeypatch.setenv("CALLSEAL_DEMO_PASSWORD", "demo-password-for-tests")
    call_command("seed_demo", stdout=StringIO())
    lines = ["What are your opening hours?", "How do I return an item?"]
    script = tmp_path / "script.json"
    script.write_text(
        json.dumps(
            {
                "scenarios": [
                    {
                        "name": "hours and returns",
                        "turns": [{"caller": line, "dtmf": "", "expect": {}} for line in lines],
                    }
                ]
            }
        )
    )
    out = StringIO()
    call_command(
        "simulate_calls", tenant="acme-us", script=script, json=True, base_url=servers, stdout=out
    )
    report = json.loads(out.getvalue())
    print(json.dumps(report, indent=2))  # what a person would read; timings are not asserted
    (call,) = report["calls"]
    assert call["error"] is None
    assert re.fullmatch(r"CA[0-9a-f]{32}", call["call_sid"])
    assert call["scenario"] == "hours and returns"
    assert call["greeting"].startswith(DEMO_AGENTS["acme-us"].greeting)
    # The demo caller's number (+1 500…) has no known US state: explicit consent, by keypad.
    assert call["consent_keys"] == "1"
    assert call["consent_heard"]
    turns = call["turns"]
    assert [t["said"] for t in turns] == lines
    assert [t["heard"] for t in turns] == [
        STORE["What are your opening hours?"],
        STORE["How do I return an item?"],
    ]
    assert [t["agent_kinds"] for t in turns] == [["lookup"], ["lookup"]]
    assert all(t["voice_to_voice_ms"] > 0 for t in turns)
    assert [t["wait_timed_out"] for t in turns] == [False, False]
    assert "return" in turns[1]["recognised"].lower()
    assert report["summary"]["calls"] == 1
    assert report["summary"]["turns"] == 2
    assert report["summary"]["unanswered_turns"] == 0
    # The ledger holds the same call: consent by keypad, then the two caller turns.
    tenant = Tenant.objects.get(slug="acme-us")
    with tenant_context(tenant):
        found = call_get_by_sid(call_sid=call["call_sid"])
        assert found is not None
        events = call_events(call_id=found.id)
    given = [e.data for e in events if e.type == "consent.given"]
    assert [g["signal"] for g in given] == ["dtmf:1"]
    assert len([e for e in events if e.type == "turn.caller"]) == 2


@pytest.mark.django_db(databases=ALL_DATABASES)
def test_a_scripted_call_that_cannot_reach_the_server_is_a_failed_call_in_the_report(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("CALLSEAL_DEMO_PASSWORD", "demo-password-for-tests")
    call_command("seed_demo", stdout=StringIO())
    out = StringIO()
    call_command(
        "simulate_calls",
        tenant="acme-eu",
        script=ROOT / "demo" / "acme-eu.json",
        json=True,
        base_url="http://127.0.0.1:9",  # nothing listens on the discard port
        stdout=out,
    )
    report = json.loads(out.getvalue())
    (call,) = report["calls"]
    assert call["error"].startswith("URLError: ")
    assert [t["heard"] for t in call["turns"]] == ["", "", ""]
    assert [t["voice_to_voice_ms"] for t in call["turns"]] == [None, None, None]
    assert (report["summary"]["failed"], report["summary"]["unanswered_turns"]) == (1, 3)


@pytest.mark.django_db(databases=ALL_DATABASES)
def test_a_script_needs_a_number_with_an_ai_agent(monkeypatch):
    from calls.models import PhoneNumber

    monkeypatch.setenv("CALLSEAL_DEMO_PASSWORD", "demo-password-for-tests")
    call_command("seed_demo", stdout=StringIO())
    PhoneNumber.objects.filter(e164="+14155550100").update(agent_id=None)
    with pytest.raises(CommandError, match=r"\+14155550100 has no AI agent to talk to"):
        call_command("simulate_calls", tenant="acme-us", script=ROOT / "demo" / "acme-us.json")

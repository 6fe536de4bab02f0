"""Console defects of issue 21 (items 3, 4, 5, 9) in a real browser (Debian Chromium)
against a real daphne serving the test databases. Calls are driven through the real call
services and the voice agent's recorder (agents.voice.records) from this process; what the
server pushes or the page polls is what the browser shows."""

from __future__ import annotations

import re
import uuid
from io import StringIO

import pytest
from django.core.management import call_command

from agents.services import agent_create
from agents.spec import AgentSpec
from agents.voice.records import agent_events_append
from analytics.events import (
    AgentTestCallFinished,
    AgentTestCallRequested,
    agent_test_call_stream,
)
from calls import services as call_services
from calls.models import PhoneNumber
from calls.simulator import _post_signed
from callseal.crypto.services import subject_ref_for
from callseal.ledger.envelope import write
from callseal.ledger.selectors import ledger_read_stream
from callseal.tenancy.context import as_ref, tenant_context
from callseal.tenancy.models import Membership, Tenant
from tests.analytics.ai_events import event
from tests.browser.test_console_flows import PASSWORD, _demo_call, _log_in, _off_the_loop
from tests.conftest import ALL_DATABASES

pytestmark = pytest.mark.django_db(databases=ALL_DATABASES, transaction=True)
CALLER = "+14155550123"


@pytest.fixture
def demo(monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CALLSEAL_DEMO_PASSWORD", PASSWORD)
    call_command("seed_demo", stdout=StringIO())


def _agent(tenant_slug: str, name: str) -> uuid.UUID:
    tenant = Tenant.objects.get(slug=tenant_slug)
    admin = Membership.objects.filter(tenant=tenant, role="admin").first()
    with tenant_context(tenant):
        return agent_create(
            actor=admin,  # type: ignore[arg-type]
            spec=AgentSpec(name=name, system_prompt="You help.", greeting="Hello, Acme."),
        ).id


def _say(tenant: Tenant, call_id: uuid.UUID, *events: object) -> None:
    """Append as the voice agent's recorder does (off Playwright's loop)."""

    def append() -> None:
        with tenant_context(tenant):
            subject = subject_ref_for(CALLER)
        agent_events_append(
            tenant=as_ref(tenant), call_id=call_id, events=list(events), subject=subject
        )

    _off_the_loop(append)


def _reply(text: str, kind: str = "reply") -> object:
    return event("turn.agent", text=text, heard_text=text, interrupted=False, kind=kind)


def _status(base: str, number: PhoneNumber, sid: str, status: str, sequence: int) -> None:
    """Twilio's signed status callback, to the server under test."""
    params = {
        "AccountSid": number.twilio_account_sid,
        "CallSid": sid,
        "CallStatus": status,
        "To": number.e164,
        "From": CALLER,
        "SequenceNumber": str(sequence),
    }
    code, _ = _post_signed(
        f"{base}/twilio/status", params, call_services.phone_number_auth_token(number)
    )
    assert code == 204


# --- item 3 -------------------------------------------------------------------------


def test_the_untouched_new_agent_form_offers_english_only_and_is_accepted(
    demo, page, live_server_url, screenshot
):
    base = live_server_url
    _log_in(page, base, "acme-us-admin")
    page.goto(f"{base}/agents/new/")
    language = page.get_by_label("Language", exact=True)
    assert language.locator("option").all_inner_texts() == ["English"]
    assert language.input_value() == "en"
    assert page.get_by_label("Voice").input_value() == "joe-us"
    assert page.get_by_label("Speech recognition").input_value() == "tiny.en"
    page.get_by_label("Name").fill("Billing desk")
    page.get_by_label("System prompt").fill("You answer billing questions.")
    page.get_by_label("Greeting").fill("Hello, billing.")
    screenshot(page, "agent-new")
    page.get_by_role("button", name="Create agent").click()
    assert "Created Billing desk (version 1)." in page.get_by_role("status").inner_text()
    agent_url = page.url

    # Another tenant never sees it, in the list or by its address.
    page.context.clear_cookies()
    _log_in(page, base, "acme-eu-admin")
    page.goto(f"{base}/agents/")
    assert "Billing desk" not in page.content()
    response = page.goto(agent_url)
    assert response is not None
    assert response.status == 404


# --- item 4 -------------------------------------------------------------------------


def _request_test_call(tenant: Tenant, agent_id: uuid.UUID, number: PhoneNumber) -> tuple:  # type: ignore[type-arg]
    """What the Start test call button records, without placing the call: this test plays
    the call's part itself, step by step."""
    run_id, sid = uuid.uuid4(), "CA" + uuid.uuid4().hex
    write(
        tenant=tenant,
        stream_id=agent_test_call_stream(run_id),
        events=[
            AgentTestCallRequested(
                test_call_id=str(run_id),
                agent_id=str(agent_id),
                agent_version=1,
                phone_number=number.e164,
                twilio_call_sid=sid,
                caller_text="Hi, can you tell me your opening hours on Saturday?",
            )
        ],
        actor="test",
    )
    return run_id, sid


def _finish_test_call(tenant: Tenant, run_id: uuid.UUID, report: dict) -> None:  # type: ignore[type-arg]
    write(
        tenant=tenant,
        stream_id=agent_test_call_stream(run_id),
        events=[
            AgentTestCallFinished(
                test_call_id=str(run_id), ok=not report.get("error"), report=report
            )
        ],
        actor="console.test_call",
    )


def _start_call(tenant: Tenant, number: PhoneNumber, sid: str) -> uuid.UUID:
    """The voice webhook's call.started (off Playwright's loop, which the live push needs)."""
    started: list[uuid.UUID] = []

    def start() -> None:
        with tenant_context(tenant):
            started.append(
                call_services.call_start(
                    tenant=as_ref(tenant), phone_number=number, call_sid=sid, from_number=CALLER
                ).call_id
            )

    _off_the_loop(start)
    return started[0]


def test_the_test_call_page_follows_the_call_and_agrees_with_the_call_page(
    demo, page, live_server_url, screenshot
):
    base = live_server_url
    tenant = Tenant.objects.get(slug="acme-us")
    number = PhoneNumber.objects.get(tenant=tenant)
    agent_id = _agent("acme-us", "Order desk")
    run_id, sid = _request_test_call(tenant, agent_id, number)
    _log_in(page, base, "acme-us-admin")
    page.goto(f"{base}/agents/{agent_id}/test-calls/{run_id}/")
    status = page.locator("#test-call-status")
    assert status.inner_text() == "Queued"

    call_id = _start_call(tenant, number, sid)
    status.filter(has_text="Ringing").wait_for()
    _status(base, number, sid, "in-progress", 1)
    status.filter(has_text="In progress").wait_for()
    _say(
        tenant,
        call_id,
        event("turn.caller", text="opening hours?", redacted_text="opening hours?"),
        _reply("We open at nine on Saturday."),
        event("turn.latency", voice_to_voice_ms=1221, first_frame_ms=1221),
    )
    page.locator("#test-call-v2v", has_text="1221 ms").wait_for()
    assert status.inner_text() == "In progress"
    _status(base, number, sid, "completed", 2)
    # The simulator's own figure (heard at the far end of the line) is not a second
    # voice-to-voice: the page keeps the call's.
    _finish_test_call(
        tenant,
        run_id,
        {
            "answer_to_first_audio_ms": 2710.4,
            "voice_to_voice_ms": 1299.3,
            "frames_sent": 900,
            "frames_received": 640,
            "streams": 1,
            "error": "",
        },
    )
    status.filter(has_text="Completed").wait_for()
    v2v = page.locator("#test-call-v2v").inner_text()
    assert v2v == "1221 ms (1 reply)"
    assert "1299.3" not in page.content()
    screenshot(page, "test-call-states")
    page.get_by_role("link", name=sid).click()
    assert page.locator("#call-v2v").inner_text() == v2v

    # A call whose agent fell back says so, not "Completed".
    run_id, sid = _request_test_call(tenant, agent_id, number)
    call_id = _start_call(tenant, number, sid)
    _status(base, number, sid, "in-progress", 1)
    page.goto(f"{base}/agents/{agent_id}/test-calls/{run_id}/")
    _say(
        tenant,
        call_id,
        _reply("Hello, Acme.", "greeting"),
        event("agent.fallback", reason="no_audio", detail="no agent audio 8 s"),
        _reply("Sorry, let me find a colleague.", "apology"),
    )
    status.filter(has_text="Fell back").wait_for()
    _status(base, number, sid, "completed", 2)
    _finish_test_call(tenant, run_id, {"voice_to_voice_ms": None, "error": ""})
    page.get_by_text("The agent could not answer (1 fallback)").wait_for()
    page.locator("#test-call-report", has_text="Answer to first audio").wait_for()
    assert f"{sid} · Completed" in page.locator("#test-call").inner_text()
    assert status.inner_text() == "Fell back"
    assert page.locator("#test-call-v2v").inner_text() == "—"
    screenshot(page, "test-call-fell-back")

    # A run that never reached the server failed.
    run_id, _ = _request_test_call(tenant, agent_id, number)
    _finish_test_call(tenant, run_id, {"error": "ConnectionRefusedError: refused"})
    page.goto(f"{base}/agents/{agent_id}/test-calls/{run_id}/")
    assert status.inner_text() == "Failed"
    assert "ConnectionRefusedError" in page.get_by_role("alert").inner_text()

    page.context.clear_cookies()
    _log_in(page, base, "acme-eu-admin")
    response = page.goto(f"{base}/agents/{agent_id}/test-calls/{run_id}/")
    assert response is not None
    assert response.status == 404


# --- item 5 -------------------------------------------------------------------------


def test_the_dashboard_counts_the_agents_replies_and_no_fallback_as_contained(
    demo, page, live_server_url, screenshot
):
    us = Tenant.objects.get(slug="acme-us")
    answered = _demo_call("acme-us", turns=0, end=False)
    _say(
        us,
        answered.call_id,
        _reply("Hello, Acme.", "greeting"),
        event("turn.caller", text="opening hours?", redacted_text="opening hours?"),
        _reply("Nine to five."),
        event("turn.latency", voice_to_voice_ms=980, first_frame_ms=980),
    )
    _off_the_loop(answered.end)
    fell_back = _demo_call("acme-us", turns=0, end=False)
    _say(
        us,
        fell_back.call_id,
        _reply("Hello, Acme.", "greeting"),
        event("turn.caller", text="my parcel", redacted_text="my parcel"),
        event("agent.fallback", reason="inference_error", detail="llm 500"),
        _reply("Sorry, let me find a colleague.", "apology"),
    )
    _off_the_loop(fell_back.end)
    # The other tenant's calls never count here.
    eu = _demo_call("acme-eu", turns=0, end=False)
    _say(
        Tenant.objects.get(slug="acme-eu"),
        eu.call_id,
        _reply("Hallo.", "reply"),
        event("turn.latency", voice_to_voice_ms=700, first_frame_ms=700),
    )
    _off_the_loop(eu.end)

    _log_in(page, live_server_url, "acme-us-admin")
    figures = page.get_by_role("region", name="Today (UTC)")
    assert figures.locator("#today-calls").inner_text() == "2"
    assert figures.locator("#containment").inner_text() == "50.0 %"
    assert figures.locator("#escalation").inner_text() == "50.0 %"
    assert figures.locator("#v2v-p50").inner_text() == "980 ms"
    assert (
        figures.locator("#today-note")
        .inner_text()
        .startswith("2 ended today; 1 timed agent reply in the last hour.")
    )
    screenshot(page, "dashboard-figures")
    page.goto(f"{live_server_url}/calls/{fell_back.call_id}/")
    facts = page.locator("dl.facts").first.inner_text()
    assert "Outcome\nEscalated" in facts


# --- item 9 -------------------------------------------------------------------------


def test_the_live_view_drops_its_controls_when_the_end_is_pushed(
    demo, page, live_server_url, screenshot
):
    call = _demo_call("acme-us", turns=1, end=False)
    number = PhoneNumber.objects.get(tenant__slug="acme-us")
    _status(live_server_url, number, call.sid, "in-progress", 1)
    _log_in(page, live_server_url, "acme-us-admin")
    page.goto(f"{live_server_url}/calls/{call.call_id}/live/")
    page.get_by_text("Live: new turns appear as they happen.").wait_for()
    assert page.get_by_role("button", name="End the call").is_visible()
    _status(live_server_url, number, call.sid, "completed", 2)
    page.locator("#supervisor-ended").wait_for(state="visible")
    assert page.get_by_role("button", name="End the call").count() == 0
    assert page.get_by_role("button", name="Escalate to a human").count() == 0
    assert page.locator("#call-status").inner_text().startswith("Ended (completed")
    screenshot(page, "live-call-ended")

    page.context.clear_cookies()
    _log_in(page, live_server_url, "acme-eu-admin")
    response = page.goto(f"{live_server_url}/calls/{call.call_id}/live/")
    assert response is not None
    assert response.status == 404


def test_an_officer_reads_distinct_consent_modes_and_sets_the_announcement(
    demo, page, live_server_url, screenshot
):
    base = live_server_url
    _log_in(page, base, "acme-us-compliance")
    page.goto(f"{base}/compliance/consent/")
    modes = page.locator("#consent-modes label").all_inner_texts()
    assert len(modes) == len(set(modes)) == 4
    assert page.get_by_label("All-party: every caller is asked").is_checked() is False
    assert page.get_by_label("By the caller's jurisdiction").is_checked()
    before = page.locator("#announcement-versions").inner_text()
    assert "the deployment's default" in page.locator("#consent-announcement").inner_text()

    box = page.get_by_label("Recording announcement")
    box.fill("x" * 301)  # the browser keeps maxlength; the server checks it too
    assert len(box.input_value()) == 300
    box.fill("Calls to Acme are recorded to train our staff and to settle disputes.")
    page.get_by_role("button", name="Save consent policy").click()
    assert "Consent policy saved." in page.get_by_role("status").inner_text()
    assert (
        page.locator("#consent-announcement").inner_text()
        == "Calls to Acme are recorded to train our staff and to settle disputes."
    )
    after = page.locator("#announcement-versions").inner_text()
    assert re.findall(r"ann-[0-9a-f]{12}", after) != re.findall(r"ann-[0-9a-f]{12}", before)
    screenshot(page, "consent-policy")
    tenant = Tenant.objects.get(slug="acme-us")
    with tenant_context(tenant):
        changes = [
            e.data
            for e in ledger_read_stream(stream_id="compliance-policies")
            if e.data["policy"] == "consent_announcement"
        ]
    assert changes == [
        {
            "policy": "consent_announcement",
            "old": {"consent_announcement": ""},
            "new": {
                "consent_announcement": (
                    "Calls to Acme are recorded to train our staff and to settle disputes."
                )
            },
            "changed_by": changes[0]["changed_by"],
        }
    ]

    # The other tenant still hears the deployment's text.
    page.context.clear_cookies()
    _log_in(page, base, "acme-eu-compliance")
    page.goto(f"{base}/compliance/consent/")
    assert "train our staff" not in page.content()
    assert "the deployment's default" in page.locator("#consent-announcement").inner_text()
    assert "requires explicit consent by law" in page.locator("#explicit-region").inner_text()

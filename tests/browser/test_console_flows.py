"""The console's main flows in a real browser (Debian Chromium) against a real daphne.

Test calls run the call simulator inside the server (CALLSEAL_TEST_CALL_RUNNER=thread,
set in conftest), which phones the server's own Twilio webhook and media stream."""

from __future__ import annotations

import asyncio
import re
import uuid
from io import StringIO

import pytest
from django.core.management import call_command

from agents.services import agent_create
from agents.spec import AgentSpec, KnowledgeEntry
from calls.models import Call, PhoneNumber
from calls.services import phone_number_auth_token, phone_number_configure
from calls.simulator import Account, run_call
from callseal.tenancy.context import tenant_context
from callseal.tenancy.models import Tenant
from compliance.models import Recording
from compliance.tasks import redact_recording
from tests.analytics.ai_events import event
from tests.analytics.conftest import CallDriver
from tests.browser.two_factor import log_in
from tests.conftest import ALL_DATABASES, postgres_mode
from tests.factories import UserFactory, membership
from tests.live import serve_asgi
from tests.speech import caller_audio

pytestmark = pytest.mark.django_db(databases=ALL_DATABASES, transaction=True)
PASSWORD = "browser-demo-password"


@pytest.fixture(scope="module")
def live_server_url(django_db_setup):  # type: ignore[no-untyped-def]
    """This module's daphne answers calls with the AI agent: the us region's inference
    service and llama.cpp server are real subprocesses."""
    from tests.agents.voice_servers import base_env, inference_service, llm_server

    env = {**base_env(), "CALLSEAL_AGENT_NO_AUDIO_S": "8"}
    with (
        inference_service("us", env) as inference,
        llm_server(env) as llm,
        serve_asgi(
            {
                "REGION_US_INFERENCE_URL": inference.url,
                "REGION_US_LLM_URL": llm.url,
                "CALLSEAL_AGENT_NO_AUDIO_S": "8",
            }
        ) as url,
    ):
        yield url


@pytest.fixture
def demo(monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CALLSEAL_DEMO_PASSWORD", PASSWORD)
    call_command("seed_demo", stdout=StringIO())


def _log_in(page, base: str, username: str) -> None:  # type: ignore[no-untyped-def]
    log_in(page, base, username, PASSWORD)


def _demo_call(slug: str, *, turns: int = 2, end: bool = True) -> CallDriver:
    tenant = Tenant.objects.get(slug=slug)
    number = PhoneNumber.objects.get(tenant=tenant)
    call = CallDriver(tenant, number)
    call.record(
        event(
            "consent.given",
            announcement_version="v3",
            at="2026-01-01T00:00:02+00:00",
            audio_offset_ms=2100,
            method="speech",
            signal="speech:yes",
        )
    )
    lines = [
        (
            "I'd like to check order 5521, my card ends 4242",
            "I'd like to check order 5521, my card ends [CARD]",
            "Order 5521 ships tomorrow.",
        ),
        (
            "Great, and my email is ann@example.com",
            "Great, and my email is [EMAIL]",
            "I've noted your email.",
        ),
    ]
    for i in range(turns):
        caller, redacted, agent = lines[i % 2]
        call.turn(caller, redacted, agent, 610 + 90 * i)
    if end:
        call.end()
    return call


def _off_the_loop(fn, *args) -> None:  # type: ignore[no-untyped-def]
    """Run a service call on another thread: Playwright's sync API keeps an event loop on
    this one, where the channel layer's async_to_sync publish cannot run."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connections

    def run() -> None:
        try:
            fn(*args)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(run).result()


def test_admin_creates_an_agent_attaches_it_places_a_test_call_and_plays_the_recording(
    demo, page, live_server_url, screenshot
):
    base = live_server_url
    _log_in(page, base, "acme-us-admin")
    page.get_by_role("link", name="Agents").click()
    page.get_by_role("link", name="New agent").click()
    page.get_by_label("Name").fill("Order desk")
    page.get_by_label("System prompt").fill("You help callers with their orders. Be brief.")
    page.get_by_label("Greeting").fill("Hello, this is the order desk.")
    page.get_by_label("Language", exact=True).select_option("en")
    page.get_by_role("button", name="Create agent").click()
    assert "Created Order desk (version 1)." in page.get_by_role("status").inner_text()
    agent_url = page.url

    page.get_by_role("link", name="Settings").click()
    page.get_by_role("link", name="Phone numbers").click()
    page.get_by_label("Agent answering +14155550100").select_option(label="Order desk (v1)")
    page.get_by_role("button", name="Save").first.click()
    assert (
        "+14155550100 is now answered by the chosen agent."
        in page.get_by_role("status").inner_text()
    )

    page.goto(agent_url)
    screenshot(page, "agent")
    page.get_by_role("button", name="Start test call").click()
    assert re.search(r"/test-calls/[0-9a-f-]{36}/$", page.url)
    # The page follows the call as it happens, then shows the simulator's figures.
    page.get_by_text(re.compile(r"Call CA[0-9a-f]{32}")).wait_for()
    # The AI agent's greeting appears in the transcript while the call runs.
    page.locator("#transcript li.agent", has_text="Hello, this is the order desk.").wait_for(
        timeout=90_000
    )
    page.locator("#test-call-status", has_text="Completed").wait_for(timeout=90_000)
    assert page.locator("#test-call-report").is_visible()
    screenshot(page, "test-call")

    sid = re.search(r"CA[0-9a-f]{32}", page.locator("#test-call").inner_text()).group(0)  # type: ignore[union-attr]
    tenant = Tenant.objects.get(slug="acme-us")
    with tenant_context(tenant):
        call = Call.objects.get(twilio_call_sid=sid)
        assert call.status == "completed"
    # The test caller said yes by keypad: the call was recorded. The region's worker makes
    # the audio-redacted copy an admin may play; here the test runs that task itself.
    with tenant_context(tenant):
        recording = Recording.objects.get(call_id=call.id, kind="original")
        redact_recording.run(str(recording.id))
    page.get_by_role("link", name=sid).click()
    consent = page.get_by_role("region", name="Consent evidence").inner_text()
    assert "consent.given method dtmf, signal dtmf:1" in consent
    page.get_by_label("Reason for listening").fill("quality review of the test call")
    page.get_by_role("button", name="Play").click()
    page.wait_for_function(
        "() => { const a = document.getElementById('recording-audio');"
        " return a && a.readyState >= 1 && a.duration > 5; }"
    )
    assert "Playing the redacted recording" in page.locator("#player").inner_text()


@pytest.mark.skipif(
    not postgres_mode(),
    reason="pushes from this test process reach daphne's browsers through a shared channel "
    "layer (Redis); the in-memory layer of the embedded mode is per process",
)
def test_a_supervisor_sees_the_transcript_arrive_live(demo, page, live_server_url, screenshot):
    call = _demo_call("acme-us", turns=0, end=False)
    _log_in(page, live_server_url, "acme-us-admin")
    page.goto(f"{live_server_url}/calls/{call.call_id}/live/")
    page.get_by_text("Live: new turns appear as they happen.").wait_for()
    _off_the_loop(
        call.turn,
        "I'd like to check order 5521, my card ends 4242",
        "I'd like to check order 5521, my card ends [CARD]",
        "Order 5521 ships tomorrow.",
        640,
    )
    transcript = page.locator("#transcript")
    transcript.get_by_text("my card ends [CARD]").wait_for()
    transcript.get_by_text("Order 5521 ships tomorrow.").wait_for()
    assert "4242" not in transcript.inner_text()
    screenshot(page, "live-call")
    _off_the_loop(call.end)
    page.get_by_text("This call has ended.").wait_for()


def _place_call(base: str, number: PhoneNumber, audio, caller: str):  # type: ignore[no-untyped-def]
    """A call from the Twilio stand-in, off this thread's (Playwright's) event loop."""
    from concurrent.futures import ThreadPoolExecutor

    account = Account(
        base_url=base,
        number=number.e164,
        account_sid=number.twilio_account_sid,
        auth_token=phone_number_auth_token(number),
    )
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(
            asyncio.run, run_call(account, audio, echo=False, trailing_ms=0, caller=caller)
        ).result()


def test_compliance_officer_plays_a_consented_calls_recording_and_sees_its_evidence(
    demo, page, live_server_url, screenshot
):
    """Nothing injected: a Californian caller (explicit consent) says yes, the call path
    records the evidence and the recording, and the officer plays it with a reason."""
    tenant = Tenant.objects.get(slug="acme-us")
    number = PhoneNumber.objects.get(tenant=tenant)
    with tenant_context(tenant):
        agent = agent_create(
            actor=membership(user=UserFactory(), tenant=tenant),
            spec=AgentSpec(
                name="Front desk",
                system_prompt="You are the phone assistant of Acme.",
                greeting="Hello, Acme.",
                knowledge=(KnowledgeEntry("What are your opening hours?", "Nine to five."),),
            ),
        )
    phone_number_configure(
        phone_number=number,
        account_sid=number.twilio_account_sid,
        auth_token=phone_number_auth_token(number),
        agent_id=agent.id,
    )
    audio = caller_audio(
        (15.0, None), (0.0, "Yes."), (6.0, "What are your opening hours?"), (7.0, None)
    )
    report = _place_call(live_server_url, number, audio, caller="+14155550123")
    assert report.error is None, report.error
    with tenant_context(tenant):
        call = Call.objects.get(twilio_call_sid=report.call_sid)

    _log_in(page, live_server_url, "acme-us-compliance")
    page.goto(f"{live_server_url}/calls/{call.id}/")
    consent = page.get_by_role("region", name="Consent evidence").inner_text()
    assert "consent.required requirement explicit, policy jurisdiction, state CA" in consent
    assert "consent.announcement_played" in consent
    assert "consent.given method speech, signal speech:yes, announcement version ann-" in consent
    page.get_by_label("Reason for listening").fill("complaint review 88")
    page.get_by_role("button", name="Play").click()
    page.wait_for_function(
        "() => { const a = document.getElementById('recording-audio');"
        " return a && a.readyState >= 1 && a.duration > 5; }"
    )
    screenshot(page, "call-detail")


def test_a_us_user_cannot_reach_an_eu_call_by_url(demo, page, live_server_url):
    eu_call = _demo_call("acme-eu", turns=1)
    _log_in(page, live_server_url, "acme-us-admin")
    for path in (f"/calls/{eu_call.call_id}/", f"/calls/{eu_call.call_id}/live/"):
        response = page.goto(f"{live_server_url}{path}")
        assert response is not None
        assert response.status == 404
        assert page.get_by_role("heading", level=1).inner_text() == "Not found"
        assert "Acme GmbH" not in page.content()


def test_screenshots_of_the_main_pages(demo, page, live_server_url, screenshot):
    for i in range(6):
        _demo_call("acme-us", turns=1 + i % 2, end=i != 5)
    _log_in(page, live_server_url, "acme-us-admin")
    page.locator("#chart-latency .uplot").wait_for()
    page.get_by_role("heading", name="Inference service health").wait_for()
    screenshot(page, "dashboard")
    page.get_by_role("link", name="Calls", exact=True).click()
    screenshot(page, "calls")
    page.get_by_role("link", name="live view").first.click()
    screenshot(page, "live-call-view")
    assert uuid.UUID(page.url.rstrip("/").split("/")[-2])

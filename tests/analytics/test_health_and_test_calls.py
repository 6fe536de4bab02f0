from __future__ import annotations

import dataclasses
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError

from analytics.agent_test_calls import agent_test_call_start
from analytics.health import inference_health
from callseal.tenancy.context import tenant_context
from callseal.tenancy.models import Role
from tests.conftest import ALL_DATABASES
from tests.factories import UserFactory, membership


def _serve(body: dict) -> ThreadingHTTPServer:  # type: ignore[type-arg]
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            data = json.dumps(body).encode() if self.path == "/healthz" else b"{}"
            self.send_response(200 if self.path == "/healthz" else 404)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_health_reports_up_down_and_a_region_answered_by_another(settings):
    good = _serve(
        {"status": "ok", "region": "us", "models": {"asr": {"tiny.en": {}}, "tts": {"joe-us": {}}}}
    )
    wrong = _serve({"status": "ok", "region": "us"})
    try:
        settings.REGIONS = {
            "us": dataclasses.replace(
                settings.REGIONS["us"], inference_url=f"ws://127.0.0.1:{good.server_address[1]}"
            ),
            "eu": dataclasses.replace(
                settings.REGIONS["eu"], inference_url=f"http://127.0.0.1:{wrong.server_address[1]}"
            ),
            "ap": dataclasses.replace(
                settings.REGIONS["eu"], name="ap", inference_url="http://127.0.0.1:9"
            ),
        }
        cache.clear()
        us, eu, ap = inference_health()
    finally:
        good.shutdown()
        wrong.shutdown()
    assert (us.region, us.ok, us.detail) == ("us", True, "joe-us, tiny.en")
    assert (eu.ok, eu.detail) == (False, "answered by region us")
    assert (ap.ok, ap.latency_ms) == (False, None)
    assert inference_health() == [us, eu, ap]  # cached: the dead region costs nothing now


@pytest.mark.django_db(databases=ALL_DATABASES)
def test_a_test_call_needs_an_attached_number_and_an_agent_manager(acme_us):
    from agents.services import agent_create
    from agents.spec import AgentSpec

    admin = membership(user=UserFactory(), tenant=acme_us, role=Role.ADMIN)
    supervisor = membership(user=UserFactory(), tenant=acme_us, role=Role.SUPERVISOR)
    with tenant_context(acme_us):
        agent = agent_create(actor=admin, spec=AgentSpec(name="A", system_prompt="p", greeting="g"))
        with pytest.raises(ValidationError, match="Attach this agent to a phone number first"):
            agent_test_call_start(actor=admin, agent_id=agent.id, base_url="http://127.0.0.1:1/")
        with pytest.raises(PermissionDenied):
            agent_test_call_start(
                actor=supervisor, agent_id=agent.id, base_url="http://127.0.0.1:1/"
            )
        from django.http import Http404

        with pytest.raises(Http404):
            agent_test_call_start(
                actor=admin, agent_id=uuid.uuid4(), base_url="http://127.0.0.1:1/"
            )


@pytest.mark.parametrize(
    ("run_status", "call_status", "fallbacks", "state"),
    [
        ("queued", None, 0, "queued"),
        ("queued", "ringing", 0, "ringing"),
        ("queued", "in_progress", 0, "in_progress"),
        ("finished", "in_progress", 0, "in_progress"),  # the run ends before Twilio's callback
        ("queued", "in_progress", 1, "fell_back"),
        ("finished", "completed", 1, "fell_back"),
        ("queued", "completed", 0, "in_progress"),  # the test caller has not reported yet
        ("finished", "completed", 0, "completed"),
        ("failed", "completed", 0, "failed"),  # e.g. the test caller heard no reply
        ("queued", "busy", 0, "in_progress"),
        ("finished", "busy", 0, "failed"),
        ("finished", "no_answer", 0, "failed"),
        ("failed", None, 0, "failed"),  # the call never reached the webhook
        ("finished", None, 0, "failed"),
    ],
)
def test_a_test_calls_state_follows_its_call_not_only_its_run(
    run_status, call_status, fallbacks, state
):
    from analytics.agent_test_calls import agent_test_call_state

    assert (
        agent_test_call_state(run_status=run_status, call_status=call_status, fallbacks=fallbacks)
        == state
    )

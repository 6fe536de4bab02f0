"""Live pushes over /ws/console/ and supervisor actions through Twilio's REST API."""

from __future__ import annotations

import uuid

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError

from calls import services, supervision
from calls.timeline import call_record
from callseal.asgi import application
from callseal.tenancy.context import as_ref, tenant_context
from callseal.tenancy.models import Role
from tests.analytics.conftest import CallDriver
from tests.conftest import ALL_DATABASES
from tests.factories import UserFactory, membership
from tests.twilio_standin import TwilioStandIn

pytestmark = pytest.mark.django_db(databases=ALL_DATABASES, transaction=True)
ACCOUNT = "AC" + "ab" * 16
TOKEN = "0123456789abcdef0123456789abcdef"


async def _socket(client) -> WebsocketCommunicator:  # type: ignore[no-untyped-def]
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    ws = WebsocketCommunicator(
        application,
        "/ws/console/",
        headers=[
            (b"cookie", cookie.encode()),
            (b"origin", b"http://127.0.0.1"),
            (b"host", b"127.0.0.1"),
        ],
    )
    assert (await ws.connect())[0]
    return ws


async def test_a_calls_turns_are_pushed_redacted_to_its_followers(
    client, login_as, acme_us, us_number
):
    await sync_to_async(login_as)(acme_us, Role.SUPERVISOR)
    call = await sync_to_async(CallDriver)(acme_us, us_number)
    ws = await _socket(client)
    await ws.send_json_to({"subscribe": f"call:{call.call_id}"})
    assert await ws.receive_json_from() == {"subscribed": f"call:{call.call_id}"}
    await sync_to_async(call.turn)("card 4111 1111 1111 1111", "card [CARD]", "Noted.", 600)
    caller = await ws.receive_json_from(timeout=5)
    agent = await ws.receive_json_from(timeout=5)
    assert caller == {
        "topic": f"call:{call.call_id}",
        "event": {"kind": "turn", "version": 3, "speaker": "caller", "text": "card [CARD]"},
    }
    assert agent["event"] == {
        "kind": "turn",
        "version": 5,
        "speaker": "agent",
        "text": "Noted.",
        "interrupted": False,
    }
    assert (await ws.receive_json_from(timeout=5))["event"]["kind"] == "latency"
    await sync_to_async(call.end)()
    assert (await ws.receive_json_from(timeout=5))["event"] == {
        "kind": "ended",
        "status": "completed",
        "outcome": "contained",
    }
    await ws.disconnect()


async def test_the_calls_topic_hears_calls_start_and_end(client, login_as, acme_us, us_number):
    await sync_to_async(login_as)(acme_us, Role.AGENT)
    ws = await _socket(client)
    await ws.send_json_to({"subscribe": "calls"})
    await ws.receive_json_from()
    call = await sync_to_async(CallDriver)(acme_us, us_number)
    started = (await ws.receive_json_from(timeout=5))["event"]
    assert (started["call_id"], started["status"]) == (str(call.call_id), "ringing")
    await sync_to_async(call.end)("busy")
    ended = (await ws.receive_json_from(timeout=5))["event"]
    assert (ended["status"], ended["outcome"]) == ("busy", "abandoned")
    await ws.disconnect()


async def test_another_tenants_call_cannot_be_followed(client, login_as, acme_us, acme_eu):
    from calls.models import PhoneNumber

    number = await sync_to_async(PhoneNumber.objects.create)(tenant=acme_eu, e164="+493055510000")
    foreign = await sync_to_async(CallDriver)(acme_eu, number)
    await sync_to_async(login_as)(acme_us, Role.ADMIN)
    ws = await _socket(client)
    for topic in (f"call:{foreign.call_id}", "call:not-a-uuid"):
        await ws.send_json_to({"subscribe": topic})
        assert "error" in await ws.receive_json_from()
    await ws.disconnect()


@pytest.fixture
def twilio(settings, acme_us, us_number):  # type: ignore[no-untyped-def]
    standin = TwilioStandIn({ACCOUNT: TOKEN})
    server, url = standin.serve()
    settings.CALLSEAL_TWILIO_API_BASE_URL = url
    services.phone_number_configure(phone_number=us_number, account_sid=ACCOUNT, auth_token=TOKEN)
    yield standin
    server.shutdown()


def _events(tenant, call_id) -> list[str]:  # type: ignore[no-untyped-def]
    with tenant_context(tenant):
        return [e.type for e in services.call_events(call_id=call_id)]


def test_a_supervisor_ends_a_call_through_twilio_and_it_is_recorded(acme_us, us_number, twilio):
    supervisor = membership(user=UserFactory(), tenant=acme_us, role=Role.SUPERVISOR)
    call = CallDriver(acme_us, us_number)
    with tenant_context(acme_us):
        supervision.call_supervisor_end(
            actor=supervisor, call_id=call.call_id, reason="abusive caller"
        )
    (seen,) = twilio.requests
    assert (seen.method, seen.path, seen.params, seen.errors) == (
        "POST",
        f"/2010-04-01/Accounts/{ACCOUNT}/Calls/{call.sid}.json",
        {"Status": "completed"},
        [],
    )
    assert _events(acme_us, call.call_id) == [
        "call.started",
        "consent.required",
        "call.end_requested",
    ]


def test_escalation_moves_the_call_to_a_queue_and_counts_as_escalated(acme_us, us_number, twilio):
    from analytics.models import CallSummary

    supervisor = membership(user=UserFactory(), tenant=acme_us, role=Role.SUPERVISOR)
    call = CallDriver(acme_us, us_number)
    with tenant_context(acme_us):
        supervision.call_supervisor_escalate(
            actor=supervisor, call_id=call.call_id, reason="wants a person", queue="billing"
        )
    assert twilio.requests[0].params == {"Twiml": "<Response><Enqueue>billing</Enqueue></Response>"}
    call.end()
    with tenant_context(acme_us):
        assert CallSummary.objects.get(call_id=call.call_id).outcome == "escalated"


def test_twilio_refusal_records_nothing_and_roles_are_checked(acme_us, us_number, twilio):
    supervisor = membership(user=UserFactory(), tenant=acme_us, role=Role.SUPERVISOR)
    agent = membership(user=UserFactory(), tenant=acme_us, role=Role.AGENT)
    call = CallDriver(acme_us, us_number)
    twilio.refuse_with = 500
    with tenant_context(acme_us):
        with pytest.raises(ValidationError, match="Twilio answered 500"):
            supervision.call_supervisor_end(actor=supervisor, call_id=call.call_id, reason="x")
        with pytest.raises(ValidationError, match="give a reason"):
            supervision.call_supervisor_end(actor=supervisor, call_id=call.call_id, reason=" ")
        with pytest.raises(ValidationError, match="queue"):
            supervision.call_supervisor_escalate(
                actor=supervisor, call_id=call.call_id, reason="x", queue="<Dial>"
            )
        with pytest.raises(PermissionDenied):
            supervision.call_supervisor_end(actor=agent, call_id=call.call_id, reason="x")
    assert _events(acme_us, call.call_id) == ["call.started", "consent.required"]


def test_the_voice_agent_hangs_up_through_twilio_and_a_refusal_is_recorded(
    acme_us, us_number, twilio
):
    agent_id = uuid.uuid4()
    tenant = as_ref(acme_us)
    accepted, refused = CallDriver(acme_us, us_number), CallDriver(acme_us, us_number)

    def end(call: CallDriver) -> bool:
        return supervision.call_agent_end(
            tenant=tenant, call_id=call.call_id, agent_id=agent_id, reason="end_call tool"
        )

    assert end(accepted) is True
    twilio.refuse_with = 503
    assert end(refused) is False
    assert [(r.path, r.params, r.errors) for r in twilio.requests] == [
        (f"/2010-04-01/Accounts/{ACCOUNT}/Calls/{call.sid}.json", {"Status": "completed"}, [])
        for call in (accepted, refused)
    ]
    with tenant_context(acme_us):
        requested = services.call_events(call_id=accepted.call_id)[-1]
        refusal = services.call_events(call_id=refused.call_id)[-1]
        timeline = call_record(call_id=refused.call_id).timeline
    assert (requested.type, requested.data) == (
        "call.end_requested",
        {
            "call_id": str(accepted.call_id),
            "requested_by": f"agent:{agent_id}",
            "reason": "end_call tool",
        },
    )
    assert (refusal.type, refusal.data) == (
        "call.end_refused",
        {
            "call_id": str(refused.call_id),
            "requested_by": f"agent:{agent_id}",
            "reason": "end_call tool",
            "error": "Twilio answered 503: Unable to update record: refused by the test",
        },
    )
    assert (timeline[-1].category, timeline[-1].detail) == (
        "supervision",
        f"reason end_call tool, requested by agent:{agent_id}, "
        "error Twilio answered 503: Unable to update record: refused by the test",
    )
    # A call that ended first (the caller hung up): nothing is asked or recorded.
    accepted.end()
    assert end(accepted) is True
    assert len(twilio.requests) == 2
    assert _events(acme_us, accepted.call_id)[-2:] == ["call.end_requested", "call.ended"]

"""The console WebSocket: session-authenticated, tenant-scoped, role-checked."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings

from callseal.asgi import application
from callseal.tenancy.channels import tenant_group
from callseal.tenancy.context import as_ref
from callseal.tenancy.models import Role
from tests.conftest import ALL_DATABASES

pytestmark = pytest.mark.django_db(databases=ALL_DATABASES, transaction=True)


async def _connect(client, path: str = "/ws/console/") -> WebsocketCommunicator:
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    return WebsocketCommunicator(
        application,
        path,
        headers=[
            (b"cookie", cookie.encode()),
            (b"origin", b"http://127.0.0.1"),
            (b"host", b"127.0.0.1"),
        ],
    )


async def test_events_reach_only_the_subscribed_tenant(client, login_as, acme_us, acme_eu):
    await sync_to_async(login_as)(acme_us, Role.SUPERVISOR)
    ws = await _connect(client)
    connected, _ = await ws.connect()
    assert connected
    await ws.send_json_to({"subscribe": "calls"})
    assert await ws.receive_json_from() == {"subscribed": "calls"}
    layer = get_channel_layer()
    await layer.group_send(
        tenant_group(as_ref(acme_eu), "calls"),
        {"type": "console.event", "topic": "calls", "event": {"n": 2}},
    )
    await layer.group_send(
        tenant_group(as_ref(acme_us), "calls"),
        {"type": "console.event", "topic": "calls", "event": {"n": 1}},
    )
    assert await ws.receive_json_from() == {"topic": "calls", "event": {"n": 1}}
    assert await ws.receive_nothing(timeout=0.2)
    await ws.disconnect()


async def test_anonymous_socket_is_closed(client):
    ws = WebsocketCommunicator(
        application,
        "/ws/console/",
        headers=[(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1")],
    )
    connected, code = await ws.connect()
    assert (connected, code) == (False, 4401)


async def test_foreign_origin_is_refused(client, login_as, acme_us):
    await sync_to_async(login_as)(acme_us)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    ws = WebsocketCommunicator(
        application,
        "/ws/console/",
        headers=[(b"cookie", cookie.encode()), (b"origin", b"http://evil.example")],
    )
    connected, _ = await ws.connect()
    assert connected is False


async def test_bad_frames_get_an_error_not_a_crash(client, login_as, acme_us):
    await sync_to_async(login_as)(acme_us, Role.AGENT)
    ws = await _connect(client)
    assert (await ws.connect())[0]
    await ws.send_to(text_data="{not json")
    assert "unknown topic" in (await ws.receive_json_from())["error"]
    await ws.send_json_to({"subscribe": "secrets"})
    assert "unknown topic" in (await ws.receive_json_from())["error"]
    await ws.send_json_to({"subscribe": "calls"})
    assert await ws.receive_json_from() == {"subscribed": "calls"}
    await ws.disconnect()

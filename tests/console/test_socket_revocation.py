"""Issue 22 finding 5: a member whose access is revoked, or who logs out, loses open
console WebSockets at once; a session without its second factor gets none."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from callseal.tenancy.models import Membership, Role
from tests.conftest import ALL_DATABASES
from tests.console.test_live_updates import _connect
from tests.factories import UserFactory, membership, second_factor_verified

pytestmark = pytest.mark.django_db(databases=ALL_DATABASES, transaction=True)


async def _open(client) -> object:  # type: ignore[no-untyped-def]
    ws = await _connect(client)
    connected, _ = await ws.connect()
    assert connected
    await ws.send_json_to({"subscribe": "calls"})
    assert await ws.receive_json_from() == {"subscribed": "calls"}
    return ws


@sync_to_async
def _admin_client(tenant) -> Client:  # type: ignore[no-untyped-def]
    admin: Any = UserFactory()
    membership(user=admin, tenant=tenant, role=Role.ADMIN)
    client = Client()
    client.force_login(admin)
    second_factor_verified(client, admin)
    return client


async def test_finding_5_removed_member_loses_open_sockets(client, login_as, acme_us):
    member = await sync_to_async(login_as)(acme_us, Role.SUPERVISOR)
    ws = await _open(client)
    admin = await _admin_client(acme_us)
    target = await sync_to_async(Membership.objects.get)(user=member)
    response = await sync_to_async(admin.post)(f"/settings/members/{target.id}/remove/")
    assert response.status_code == 302
    assert await ws.receive_output(timeout=2) == {"type": "websocket.close", "code": 4403}


async def test_finding_5_role_change_closes_open_sockets(client, login_as, acme_us):
    member = await sync_to_async(login_as)(acme_us, Role.SUPERVISOR)
    ws = await _open(client)
    admin = await _admin_client(acme_us)
    target = await sync_to_async(Membership.objects.get)(user=member)
    await sync_to_async(admin.post)(f"/settings/members/{target.id}/role/", {"role": Role.AGENT})
    assert await ws.receive_output(timeout=2) == {"type": "websocket.close", "code": 4403}


async def test_finding_5_logout_closes_open_sockets(client, login_as, acme_us):
    await sync_to_async(login_as)(acme_us, Role.SUPERVISOR)
    ws = await _open(client)
    assert (await sync_to_async(client.post)("/logout/")).status_code == 302
    assert await ws.receive_output(timeout=2) == {"type": "websocket.close", "code": 4403}


async def test_finding_6_socket_refused_before_the_second_factor(client, acme_us):
    user: Any = await sync_to_async(UserFactory)()
    await sync_to_async(membership)(user=user, tenant=acme_us, role=Role.ADMIN)
    await sync_to_async(client.force_login)(user)
    ws = await _connect(client)
    assert await ws.connect() == (False, 4401)

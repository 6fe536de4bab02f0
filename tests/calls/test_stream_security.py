"""Issue 22, findings 2 (stream side) and 3: hijacked, concurrent and idle media streams,
floods, and how refusals close and log. Real WebSockets through Channels' communicator."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
import websockets
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.db import connections

from calls import consumers, services
from callseal.ledger.selectors import ledger_read_stream
from callseal.routing import websocket_urlpatterns
from callseal.tenancy.context import tenant_context
from tests.calls.conftest import Line
from tests.calls.test_consumer import (
    answer,
    expect_close,
    media,
    open_stream,
    receive_until_media,
    start,
    stream_path,
)
from tests.conftest import ALL_DATABASES
from tests.live import serve_asgi

pytestmark = pytest.mark.django_db(transaction=True, databases=ALL_DATABASES)
CONNECTED = json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"})


@pytest.fixture(autouse=True)
async def _close_worker_thread_connections():
    yield
    await database_sync_to_async(connections.close_all)()


def security_reasons(line: Line) -> list[str]:
    with tenant_context(line.number.tenant):
        return [e.data["reason"] for e in ledger_read_stream(stream_id="security-media-streams")]


def stream_ends(line: Line, sid: str) -> list[str]:
    with tenant_context(line.number.tenant):
        call = services.selectors.call_get_by_sid(call_sid=sid)
        assert call is not None
        return [
            e.data["reason"]
            for e in services.call_events(call_id=call.id)
            if e.type == "stream.ended"
        ]


# --- finding 2 ---------------------------------------------------------------------------
async def test_finding2_a_second_concurrent_stream_for_a_call_is_refused(line):
    sid, token = await database_sync_to_async(answer)(line)
    first = await open_stream(line, token)
    await start(first, line, sid, token)
    await first.send_to(text_data=media(2, 1))
    await receive_until_media(first, 1)
    # Even with a token of its own (the <Redirect> followed while the stream is live):
    _, second_token = await database_sync_to_async(answer)(line, sid, after=token)
    second = await open_stream(line, second_token)
    await start(second, line, sid, second_token)
    await expect_close(second, 1008)
    # The live stream goes on.
    await first.send_to(text_data=media(3, 2))
    await receive_until_media(first, 1)
    await first.disconnect()
    assert await database_sync_to_async(security_reasons)(line) == ["concurrent_stream"]


async def test_finding2_a_token_does_not_open_another_streams_url(line):
    """The nonce in the URL path makes every handshake signature unique: a token shown on a
    URL signed for another stream (a captured handshake) is refused and burned."""
    sid, token = await database_sync_to_async(answer)(line)
    _, other_token = await database_sync_to_async(answer)(line)
    comm = await open_stream(line, other_token)  # validly signed, for the other stream
    await start(comm, line, sid, token)
    await expect_close(comm, 1008)
    assert await database_sync_to_async(security_reasons)(line) == ["wrong_stream_url"]
    again = await open_stream(line, token)
    await start(again, line, sid, token)
    await expect_close(again, 1008)


async def test_finding2_the_bare_stream_url_is_refused(line):
    await database_sync_to_async(answer)(line)
    comm = await open_stream(line, path="/media-stream/")
    await expect_close(comm, 1008)


# --- finding 3 ---------------------------------------------------------------------------
async def test_finding3_a_signed_socket_that_never_starts_is_closed_at_the_deadline(
    line, settings, caplog
):
    settings.CALLSEAL_MEDIA_START_TIMEOUT_S = 0.2
    _, token = await database_sync_to_async(answer)(line)
    comm = await open_stream(line, token)
    with caplog.at_level(logging.INFO, logger="calls"):
        await expect_close(comm, 1008)
        await comm.disconnect()
        await comm.wait()  # the consumer ended without an exception (daphne: no 1011)
    refusals = [r for r in caplog.records if r.getMessage() == "media stream refused"]
    assert [(r.reason, r.exc_info) for r in refusals] == [("no_start", None)]
    assert consumers.ADMISSION.total == 0


async def test_finding3_repeated_connected_messages_end_the_socket(line, settings, caplog):
    settings.CALLSEAL_MEDIA_START_TIMEOUT_S = 60
    _, token = await database_sync_to_async(answer)(line)
    comm = await open_stream(line, token)
    with caplog.at_level(logging.INFO, logger="calls"):
        for _ in range(60):
            await comm.send_to(text_data=CONNECTED)
        await expect_close(comm, 1008)
    refusals = [r for r in caplog.records if r.getMessage() == "media stream refused"]
    assert [r.reason for r in refusals] == ["flood"]
    malformed_lines = [r for r in caplog.records if r.getMessage().startswith("malformed")]
    assert len(malformed_lines) == 10  # the first few, not one per message


async def test_finding3_unauthenticated_sockets_are_capped_per_peer_and_in_total(line, settings):
    settings.CALLSEAL_MEDIA_UNAUTHENTICATED_PER_PEER = 2
    settings.CALLSEAL_MEDIA_UNAUTHENTICATED_MAX = 3
    settings.CALLSEAL_MEDIA_START_TIMEOUT_S = 60
    _, token = await database_sync_to_async(answer)(line)
    held = [await open_stream(line, token) for _ in range(2)]
    with pytest.raises(AssertionError):  # the third from the same peer: refused handshake
        await open_stream(line, token)
    # An authorised stream no longer counts: another stranger gets in.
    sid, good = await database_sync_to_async(answer)(line)
    await held[0].disconnect()
    live = await open_stream(line, good)
    await start(live, line, sid, good)
    await live.send_to(text_data=media(2, 1))
    await receive_until_media(live, 1)
    assert consumers.ADMISSION.total == 1
    for comm in (held[1], live):
        await comm.disconnect()
    assert consumers.ADMISSION.total == 0


async def test_finding3_a_stream_flooding_valid_frames_is_closed(line, settings):
    settings.CALLSEAL_MEDIA_MAX_MESSAGES_PER_S = 20.0  # burst of 40 messages
    sid, token = await database_sync_to_async(answer)(line)
    comm = await open_stream(line, token)
    await start(comm, line, sid, token)
    for chunk in range(1, 400):
        await comm.send_to(text_data=media(chunk + 1, chunk))
    await expect_close(comm, 1008)
    await comm.disconnect()
    assert await database_sync_to_async(stream_ends)(line, sid) == ["flood"]


async def test_finding3_against_daphne_idle_sockets_get_1008_and_strangers_are_capped():
    """A real daphne: its WebSocket library refused every application close code but 1000
    and 3000-4999, so 1008 never left the server (callseal.daphne_close)."""
    env = {
        "CALLSEAL_MEDIA_START_TIMEOUT_S": "0.5",
        "CALLSEAL_MEDIA_UNAUTHENTICATED_PER_PEER": "2",
    }
    with serve_asgi(env) as base:
        url = base.replace("http://", "ws://") + "/media-stream/0123456789abcdef/"
        signed = {"X-Twilio-Signature": "c2lnbmF0dXJl"}
        async with (
            websockets.connect(url, additional_headers=signed) as first,
            websockets.connect(url, additional_headers=signed) as second,
        ):
            with pytest.raises(websockets.InvalidStatus) as refused:
                await websockets.connect(url, additional_headers=signed)
            assert refused.value.response.status_code == 403
            for socket in (first, second):
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    await asyncio.wait_for(socket.recv(), timeout=30)
                assert closed.value.rcvd is not None
                assert closed.value.rcvd.code == 1008
        async with websockets.connect(base.replace("http://", "ws://") + "/media-stream/") as bare:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(bare.recv(), timeout=30)
            assert closed.value.rcvd.code == 1008  # unsigned, no nonce: refused at once


async def test_finding2_a_stranger_naming_a_live_call_is_refused_and_writes_nothing(line):
    sid, token = await database_sync_to_async(answer)(line)
    first = await open_stream(line, token)
    await start(first, line, sid, token)
    await first.send_to(text_data=media(2, 1))
    await receive_until_media(first, 1)
    stranger = await open_stream(line, token, signature="Zm9yZ2Vk")
    await start(stranger, line, sid, "0" * 32 + ".forged")
    await expect_close(stranger, 1008)
    await first.disconnect()
    assert await database_sync_to_async(security_reasons)(line) == []


async def test_finding3_a_socket_refused_at_the_handshake_ends_without_an_error(line, settings):
    settings.CALLSEAL_MEDIA_UNAUTHENTICATED_PER_PEER = 1
    settings.CALLSEAL_MEDIA_START_TIMEOUT_S = 60
    _, token = await database_sync_to_async(answer)(line)
    held = await open_stream(line, token)
    comm = WebsocketCommunicator(
        URLRouter(websocket_urlpatterns), stream_path(token), headers=[(b"host", b"testserver")]
    )
    assert await comm.connect() == (False, 1008)
    await comm.send_input({"type": "websocket.disconnect", "code": 1006})
    await comm.wait()  # raises if the consumer failed on the disconnect
    await held.disconnect()

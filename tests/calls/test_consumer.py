from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.db import connections
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calls import services
from calls.audio import TELEPHONE_RATE, ulaw_decode
from calls.models import Call, CallStatus, StreamToken
from calls.pipeline import CallInfo, HangUp, PipelineInput, PipelineOutput
from callseal.routing import websocket_urlpatterns
from callseal.tenancy.context import tenant_context
from tests.calls.conftest import STREAM_URL, Line, start_message
from tests.conftest import ALL_DATABASES

pytestmark = pytest.mark.django_db(transaction=True, databases=ALL_DATABASES)
STREAM_SID = "MZ" + "0" * 32
SILENCE = base64.b64encode(b"\xff" * 160).decode()


# What the voice webhook's TwiML carried for each token: its stream URL path and <Redirect>.
ISSUED: dict[str, services.Answer] = {}


def answer(line: Line, sid: str | None = None, *, after: str | None = None) -> tuple[str, str]:
    """The voice webhook's answer; ``after`` (a token) follows that TwiML's <Redirect>."""
    sid = sid or "CA" + uuid.uuid4().hex
    result = services.call_answer(
        phone_number=line.number,
        call_sid=sid,
        from_number="+1555",
        redirect_secret=ISSUED[after].redirect_secret if after else "",
    )
    ISSUED[result.token] = result
    return sid, result.token


def stream_path(token: str | None) -> str:
    return f"/media-stream/{ISSUED[token].path_nonce}/" if token else "/media-stream/"


def media(seq: int, chunk: int, payload: str = SILENCE) -> str:
    return json.dumps(
        {
            "event": "media",
            "sequenceNumber": str(seq),
            "streamSid": STREAM_SID,
            "media": {
                "track": "inbound",
                "chunk": str(chunk),
                "timestamp": str((chunk - 1) * 20),
                "payload": payload,
            },
        }
    )


def stop(seq: int, line: Line, sid: str) -> str:
    return json.dumps(
        {
            "event": "stop",
            "sequenceNumber": str(seq),
            "streamSid": STREAM_SID,
            "stop": {"accountSid": line.account_sid, "callSid": sid},
        }
    )


async def open_stream(
    line: Line, token: str | None = None, *, signature: str | None = None, path: str = ""
) -> WebsocketCommunicator:
    """A handshake as Twilio makes it: to the TwiML's stream URL, signed over it."""
    path = path or stream_path(token)
    headers = [(b"host", b"testserver")]
    sig = (
        line.sign(STREAM_URL.removesuffix("/media-stream/") + path)
        if signature is None
        else signature
    )
    if sig:
        headers.append((b"x-twilio-signature", sig.encode()))
    comm = WebsocketCommunicator(URLRouter(websocket_urlpatterns), path, headers=headers)
    connected, _ = await comm.connect()
    assert connected
    return comm


async def start(comm, line: Line, sid: str, token: str) -> None:
    await comm.send_to(
        text_data=json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"})
    )
    await comm.send_to(
        text_data=start_message(call_sid=sid, account_sid=line.account_sid, token=token)
    )


async def expect_close(comm, code: int = 1008) -> None:
    while True:
        output = await comm.receive_output(timeout=3)
        if output["type"] == "websocket.close":
            assert output.get("code") == code
            return


async def receive_until_media(comm, count: int) -> list[dict]:
    got, medias = [], 0
    while medias < count:
        message = json.loads(await comm.receive_from(timeout=3))
        got.append(message)
        medias += message["event"] == "media"
    return got


@pytest.fixture(autouse=True)
async def _close_worker_thread_connections():
    # database_sync_to_async runs the ORM in a worker thread whose connections outlive the
    # test (CONN_MAX_AGE); PostgreSQL refuses to drop a test database still in use.
    yield
    await database_sync_to_async(connections.close_all)()


@pytest.fixture
def finalised(monkeypatch):
    calls: list[str] = []
    original = services.stream_finalise

    def spy(**kwargs):
        calls.append(kwargs["reason"])
        return original(**kwargs)

    monkeypatch.setattr(services, "stream_finalise", spy)
    return calls


@pytest.fixture
def refused(monkeypatch):
    reasons: list[str] = []
    monkeypatch.setattr(services, "stream_refused", lambda **kw: reasons.append(kw["reason"]))
    return reasons


def call_row(line: Line, sid: str) -> Call:
    with tenant_context(line.number.tenant):
        return Call.objects.get(twilio_call_sid=sid)


async def test_a_signed_stream_echoes_audio_with_marks_and_stop_ends_the_call_once(line, finalised):
    sid, token = await database_sync_to_async(answer)(line)
    comm = await open_stream(line, token)
    await start(comm, line, sid, token)
    for chunk in range(1, 6):
        await comm.send_to(text_data=media(chunk + 1, chunk))
    got = await receive_until_media(comm, 5)
    assert {m["event"] for m in got} <= {"media", "mark"}
    assert all(m["streamSid"] == STREAM_SID for m in got)
    echoed = ulaw_decode(base64.b64decode(got[0]["media"]["payload"]))
    assert len(echoed) == 160
    assert int(np.max(np.abs(echoed))) <= 8  # silence, give or take one μ-law step
    await comm.send_to(
        text_data=json.dumps(
            {"event": "mark", "sequenceNumber": "7", "streamSid": STREAM_SID, "mark": {"name": "1"}}
        )
    )
    await comm.send_to(text_data=stop(8, line, sid))
    await expect_close(comm, 1000)
    await comm.disconnect()
    assert finalised == ["stop"]
    call = await database_sync_to_async(call_row)(line, sid)
    assert (call.status, call.stream_count) == (CallStatus.COMPLETED, 1)


async def test_unsigned_stream_is_closed_with_1008(line, refused):
    comm = await open_stream(line, signature="")
    await expect_close(comm)


async def test_wrongly_signed_stream_is_closed_with_1008(line, refused):
    sid, token = await database_sync_to_async(answer)(line)
    comm = await open_stream(
        line, token, signature=line.sign(f"ws://evil.example{stream_path(token)}")
    )
    await start(comm, line, sid, token)
    await expect_close(comm)
    assert refused == ["bad_signature"]


async def test_a_replayed_token_is_refused(line, refused):
    sid, token = await database_sync_to_async(answer)(line)
    first = await open_stream(line, token)
    await start(first, line, sid, token)
    await first.send_to(text_data=media(2, 1))
    await receive_until_media(first, 1)
    await first.disconnect()  # the stream is over; its token still opens nothing
    second = await open_stream(line, token)
    await start(second, line, sid, token)
    await expect_close(second)
    assert refused == ["token_replayed"]


async def test_a_token_for_another_call_is_refused(line, refused):
    _, token = await database_sync_to_async(answer)(line)
    other_sid, _ = await database_sync_to_async(answer)(line)
    comm = await open_stream(line, token)
    await start(comm, line, other_sid, token)
    await expect_close(comm)
    assert refused == ["wrong_call_sid"]


async def test_an_expired_token_is_refused(line, refused):
    sid, token = await database_sync_to_async(answer)(line)

    def expire():
        with tenant_context(line.number.tenant):
            StreamToken.objects.filter(call_sid=sid).update(
                expires_at=timezone.now() - timedelta(seconds=1)
            )

    await database_sync_to_async(expire)()
    comm = await open_stream(line, token)
    await start(comm, line, sid, token)
    await expect_close(comm)
    assert refused == ["token_expired"]


async def test_a_flood_of_garbage_ends_the_call(line, finalised):
    sid, token = await database_sync_to_async(answer)(line)
    comm = await open_stream(line, token)
    await start(comm, line, sid, token)
    for _ in range(60):
        await comm.send_to(text_data="garbage")
    await expect_close(comm)
    await comm.disconnect()  # the close went out first; the stream is recorded before this
    assert finalised == ["flood"]
    call = await database_sync_to_async(call_row)(line, sid)
    assert call.status == CallStatus.FAILED


garbage = st.one_of(
    st.text(min_size=1, max_size=200),
    st.binary(min_size=1, max_size=64).map(lambda b: ("bytes", b)),
    st.builds(
        lambda event, body: json.dumps({"event": event, **body}),
        st.sampled_from(["media", "mark", "dtmf", "stop", "start", "clear", "media "]),
        st.dictionaries(
            st.sampled_from(["sequenceNumber", "streamSid", "media", "mark", "dtmf"]),
            st.one_of(st.none(), st.integers(), st.text(max_size=8), st.just({"payload": "!!"})),
            max_size=4,
        ),
    ),
    st.integers(0, 100).map(lambda seq: media(seq, 1)),  # stale or duplicate sequence numbers
)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(garbage, min_size=1, max_size=30))
def test_malformed_messages_never_end_a_healthy_call(line, messages):
    async def scenario():
        sid, token = await database_sync_to_async(answer)(line)
        comm = await open_stream(line, token)
        await start(comm, line, sid, token)
        await comm.send_to(text_data=media(1000, 1))
        await receive_until_media(comm, 1)
        for message in messages:
            if isinstance(message, tuple):
                await comm.send_to(bytes_data=message[1])
            else:
                await comm.send_to(text_data=message)
        await comm.send_to(text_data=media(2000, 2))
        await receive_until_media(comm, 1)
        await comm.send_to(text_data=stop(2001, line, sid))
        await expect_close(comm, 1000)
        await comm.disconnect()

    async_to_sync(scenario)()


async def test_a_killed_worker_resumes_the_same_call_on_a_redirected_stream(line, finalised):
    sid, token = await database_sync_to_async(answer)(line)
    first = await open_stream(line, token)
    await start(first, line, sid, token)
    await first.send_to(text_data=media(2, 1))
    await receive_until_media(first, 1)
    # The worker dies: its task is gone without running any cleanup.
    first.future.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first.future
    # Twilio follows the <Redirect>; the voice webhook issues a token for the same call.
    sid_again, new_token = await database_sync_to_async(answer)(line, sid, after=token)
    assert sid_again == sid
    assert new_token != token
    second = await open_stream(line, new_token)
    await start(second, line, sid, new_token)
    await second.send_to(text_data=media(2, 51))
    await receive_until_media(second, 1)
    await second.send_to(text_data=stop(3, line, sid))
    await expect_close(second, 1000)
    await second.disconnect()
    call = await database_sync_to_async(call_row)(line, sid)
    assert (call.stream_count, call.status) == (2, CallStatus.COMPLETED)
    assert finalised == ["stop"]


class HangUpOnFirstFrame:
    """A pipeline that ends the call from our side when the caller's first frame arrives
    (what the agent does when Twilio refuses its hang-up)."""

    input_rate = TELEPHONE_RATE

    def __init__(self, info: CallInfo) -> None:
        self.closed = False

    def resume(self, events: Sequence[Any]) -> None:
        pass

    def snapshot(self) -> dict[str, Any]:
        return {"closed": self.closed}

    async def run(self, inbound: AsyncIterator[PipelineInput]) -> AsyncIterator[PipelineOutput]:
        try:
            async for _ in inbound:
                yield HangUp()
        finally:
            self.closed = True


async def test_a_pipeline_hang_up_closes_the_stream_and_completes_the_call(
    line, finalised, settings
):
    settings.CALLSEAL_CALL_PIPELINE = "tests.calls.test_consumer.HangUpOnFirstFrame"
    sid, token = await database_sync_to_async(answer)(line)
    comm = await open_stream(line, token)
    await start(comm, line, sid, token)
    await comm.send_to(text_data=media(2, 1))
    await expect_close(comm, 1000)
    await comm.disconnect()
    assert finalised == ["hang_up"]
    call = await database_sync_to_async(call_row)(line, sid)
    assert call.status == CallStatus.COMPLETED

    def ended() -> list[Any]:
        with tenant_context(line.number.tenant):
            return [e for e in services.call_events(call_id=call.id) if e.type == "stream.ended"]

    (stream_ended,) = await database_sync_to_async(ended)()
    # The pipeline was closed before the stream's end was recorded.
    assert stream_ended.data["pipeline_state"] == {"closed": True}
    # Twilio follows the <Redirect>: the conversation is over, so no new stream.
    with pytest.raises(services.CallNotResumable, match="completed"):
        await database_sync_to_async(answer)(line, sid, after=token)

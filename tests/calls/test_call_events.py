"""The ledger record of a call: exact events per lifecycle step, idempotency, finalisation
exactly once, resumption from events, and the Call read model rebuilt from them."""

from __future__ import annotations

import asyncio
import threading
import uuid
from datetime import UTC, datetime

import pytest
from channels.db import database_sync_to_async
from django.db import connections

from calls import services
from calls.events import SECURITY_STREAM, call_stream, rejected_stream
from calls.models import Call, CallStatus
from calls.pipeline import CallInfo, EchoPipeline, PlaybackPipeline
from calls.projections import CallProjection
from callseal.crypto.services import subject_ref_for
from callseal.ledger.projections import projection_rebuild
from callseal.ledger.selectors import ledger_read_stream
from callseal.tenancy.context import tenant_context
from tests.calls.conftest import (
    STATUS_URL,
    VOICE_URL,
    Line,
    post_signed,
    voice_params,
)
from tests.calls.test_consumer import (
    STREAM_SID,
    answer,
    expect_close,
    media,
    open_stream,
    receive_until_media,
    start,
    stop,
)
from tests.conftest import ALL_DATABASES

pytestmark = pytest.mark.django_db(transaction=True, databases=ALL_DATABASES)


def call_of(line: Line, sid: str) -> Call:
    with tenant_context(line.number.tenant):
        return Call.objects.get(twilio_call_sid=sid)


def events_of(line: Line, sid: str) -> list:
    call = call_of(line, sid)
    with tenant_context(line.number.tenant):
        return ledger_read_stream(stream_id=call_stream(call.id))


def types_of(line: Line, sid: str) -> list[str]:
    return [e.type for e in events_of(line, sid)]


@pytest.fixture(autouse=True)
async def _close_worker_thread_connections():
    yield
    await database_sync_to_async(connections.close_all)()


def status_params(line: Line, sid: str, status: str, sequence: int) -> dict[str, str]:
    return voice_params(line, sid, CallStatus=status, SequenceNumber=str(sequence))


def test_the_voice_webhook_records_call_started_with_the_caller_number_sealed(client, line):
    sid = "CA" + uuid.uuid4().hex
    post_signed(client, line, VOICE_URL, voice_params(line, sid))
    post_signed(client, line, VOICE_URL, voice_params(line, sid))  # a retry: a resumption
    started, required = events_of(line, sid)
    assert required.type == "consent.required"
    # CA is an all-party state; the number itself is not in the decision.
    assert (required.data["requirement"], required.data["state"]) == ("explicit", "CA")
    assert "+14155559876" not in str(required.data)
    call = call_of(line, sid)
    with tenant_context(line.number.tenant):
        subject = subject_ref_for("+14155559876")
    assert started.type == "call.started"
    assert started.subject_ref == subject == call.subject_ref
    assert started.data["from_number"] == "+14155559876"
    assert (started.data["call_id"], started.data["to_number"]) == (str(call.id), "+14155550100")
    assert started.data["from_masked"] == call.from_masked == "**********76"


def test_a_call_to_an_unknown_number_gets_a_goodbye_and_changes_nothing(client, line):
    """No number, no token to check the request with: nothing is recorded anywhere
    (a forged request must not write into the ledger of the account's tenant)."""
    sid = "CA" + uuid.uuid4().hex
    params = voice_params(line, sid, To="+14155550199")
    for _ in range(2):
        response = post_signed(client, line, VOICE_URL, params)
        assert b"<Hangup />" in response.content
    with tenant_context(line.number.tenant):
        assert ledger_read_stream(stream_id=rejected_stream(sid)) == []
        assert ledger_read_stream(stream_id=SECURITY_STREAM) == []


def test_status_callbacks_are_recorded_once_each_in_sequence_order(client, line):
    sid = "CA" + uuid.uuid4().hex
    post_signed(client, line, VOICE_URL, voice_params(line, sid))
    outcomes = [
        post_signed(client, line, STATUS_URL, status_params(line, sid, status, seq))[
            "X-Callseal-Outcome"
        ]
        for status, seq in [
            ("ringing", 1),
            ("ringing", 1),  # retry
            ("completed", 3),
            ("in-progress", 2),  # arrived late
            ("completed", 3),  # retry
        ]
    ]
    assert outcomes == ["applied", "duplicate", "applied", "duplicate", "duplicate"]
    events = events_of(line, sid)
    assert [e.type for e in events] == [
        "call.started",
        "consent.required",
        "call.status_changed",
        "call.status_changed",
        "call.ended",
    ]
    assert [e.data["sequence"] for e in events[2:4]] == [1, 3]
    assert events[4].data["status"] == CallStatus.COMPLETED
    call = call_of(line, sid)
    assert (call.status, call.status_sequence, call.ledger_version) == ("completed", 3, 5)


async def test_a_stream_with_stop_records_connected_ended_and_call_ended(line):
    sid, token = await database_sync_to_async(answer)(line)
    comm = await open_stream(line, token)
    await start(comm, line, sid, token)
    for chunk in range(1, 11):
        await comm.send_to(text_data=media(chunk + 1, chunk))
    await receive_until_media(comm, 10)
    await comm.send_to(text_data=stop(12, line, sid))
    await expect_close(comm, 1000)
    await comm.disconnect()
    events = await database_sync_to_async(events_of)(line, sid)
    assert [e.type for e in events] == [
        "call.started",
        "consent.required",
        "stream.connected",
        "stream.ended",
        "call.ended",
    ]
    connected, ended = events[2].data, events[3].data
    assert (connected["stream_index"], connected["stream_sid"]) == (1, STREAM_SID)
    assert (ended["reason"], ended["frames_in"], ended["frames_out"]) == ("stop", 10, 10)
    assert ended["pipeline_state"] == {"frames_echoed": 10, "marks": 1}
    assert ended["marks_sent"] == 1


async def test_stop_racing_a_disconnect_finalises_the_stream_and_the_call_once(line):
    sid, token = await database_sync_to_async(answer)(line)
    comm = await open_stream(line, token)
    await start(comm, line, sid, token)
    await comm.send_to(text_data=media(2, 1))
    await receive_until_media(comm, 1)
    # Twilio's stop and the socket closing arrive together.
    await comm.send_to(text_data=stop(3, line, sid))
    await comm.send_input({"type": "websocket.disconnect", "code": 1006})
    await asyncio.wait_for(comm.wait(), timeout=5)
    assert await database_sync_to_async(types_of)(line, sid) == [
        "call.started",
        "consent.required",
        "stream.connected",
        "stream.ended",
        "call.ended",
    ]


def test_concurrent_finalisers_end_the_call_exactly_once(line):
    sid, _ = answer(line)
    tenant = line.number.tenant
    from callseal.tenancy.context import as_ref

    ref = as_ref(tenant)
    results: list[bool] = []
    barrier = threading.Barrier(4)

    def finalise(status: str) -> None:
        barrier.wait()
        try:
            results.append(services.call_finalise(tenant=ref, call_sid=sid, status=status))
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=finalise, args=(s,))
        for s in ("completed", "completed", "failed", "canceled")
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False, False, False, True]
    assert types_of(line, sid) == ["call.started", "consent.required", "call.ended"]


async def test_a_refused_stream_is_recorded_as_a_security_event(line):
    _, token = await database_sync_to_async(answer)(line)
    other_sid, _ = await database_sync_to_async(answer)(line)
    comm = await open_stream(line, token)
    await start(comm, line, other_sid, token)
    await expect_close(comm)

    def security_events():
        with tenant_context(line.number.tenant):
            return [(e.type, e.data) for e in ledger_read_stream(stream_id=SECURITY_STREAM)]

    assert await database_sync_to_async(security_events)() == [
        (
            "security.stream_refused",
            {"reason": "wrong_call_sid", "twilio_call_sid": other_sid},
        )
    ]


async def test_a_killed_worker_loses_no_event_and_the_new_stream_records_call_resumed(line):
    sid, token = await database_sync_to_async(answer)(line)
    first = await open_stream(line, token)
    await start(first, line, sid, token)
    await first.send_to(text_data=media(2, 1))
    await receive_until_media(first, 1)
    first.future.cancel()  # the worker dies without running any cleanup
    with pytest.raises(asyncio.CancelledError):
        await first.future
    events = await _resume_one_frame_and_stop(line, sid, token)
    assert [e.type for e in events] == [
        "call.started",
        "consent.required",
        "stream.connected",
        "call.resumed",
        "stream.connected",
        "stream.ended",
        "call.ended",
    ]
    assert events[3].data["previous_stream_ended"] is False
    assert [events[2].data["stream_index"], events[4].data["stream_index"]] == [1, 2]
    assert events[5].data["stream_index"] == 2


async def test_a_resumed_stream_continues_the_pipeline_from_the_ledger(line):
    sid, token = await database_sync_to_async(answer)(line)
    first = await open_stream(line, token)
    await start(first, line, sid, token)
    for chunk in range(1, 4):
        await first.send_to(text_data=media(chunk + 1, chunk))
    await receive_until_media(first, 3)
    await first.disconnect()  # dropped without stop: the call stays open
    events = await _resume_one_frame_and_stop(line, sid, token)
    assert [e.type for e in events] == [
        "call.started",
        "consent.required",
        "stream.connected",
        "stream.ended",
        "call.resumed",
        "stream.connected",
        "stream.ended",
        "call.ended",
    ]
    assert events[4].data["previous_stream_ended"] is True
    # The pipeline of stream 2 was rebuilt from the call's events: it counts on from 3.
    echo = EchoPipeline(
        CallInfo(call_sid=sid, tenant_id=line.number.tenant_id, region="us", agent_id=None)
    )
    echo.resume(events[:5])
    assert echo.frames_echoed == 3
    echo.resume(events)
    assert echo.frames_echoed == 4


def test_playback_resumes_after_the_chunks_heard_on_earlier_streams():
    from callseal.ledger.events import RecordedEvent

    def ended(heard: list[int]) -> RecordedEvent:
        return RecordedEvent(
            sequence=1, stream_id="s", stream_version=1, event_id=uuid.uuid4(),
            type="stream.ended", schema_version=1, subject_ref=None,
            data={"heard_chunk_ids": heard, "pipeline_state": {}}, metadata={},
            recorded_at=datetime.now(UTC), leaf_hash=b"", erased_fields=frozenset(),
        )  # fmt: skip

    info = CallInfo(call_sid="CA", tenant_id=uuid.uuid4(), region="us", agent_id=None)
    playback = PlaybackPipeline(info)
    playback.resume([ended([1, 2, 3]), ended([1])])
    assert playback.first_chunk == 4


def test_ledger_replay_rebuilds_the_call_read_model(client, line):
    sid = "CA" + uuid.uuid4().hex
    post_signed(client, line, VOICE_URL, voice_params(line, sid))
    post_signed(client, line, STATUS_URL, status_params(line, sid, "in-progress", 1))
    post_signed(client, line, STATUS_URL, status_params(line, sid, "busy", 2))
    fields = ["id", "twilio_call_sid", "to_number", "from_masked", "status", "region",
              "started_at", "ended_at", "phone_number_id", "agent_id", "stream_count",
              "status_sequence", "subject_ref", "ledger_version"]  # fmt: skip
    before = call_of(line, sid)
    with tenant_context(line.number.tenant):
        Call.objects.all().delete()
        projection_rebuild(CallProjection())
    after = call_of(line, sid)
    assert [getattr(after, f) for f in fields] == [getattr(before, f) for f in fields]
    assert (after.status, after.status_sequence) == (CallStatus.BUSY, 2)


async def _resume_one_frame_and_stop(line, sid, token):  # type: ignore[no-untyped-def]
    """Twilio follows the <Redirect>: a new stream plays one frame, then `stop`; the events."""
    _, new_token = await database_sync_to_async(answer)(line, sid, after=token)
    second = await open_stream(line, new_token)
    await start(second, line, sid, new_token)
    await second.send_to(text_data=media(2, 1))
    await receive_until_media(second, 1)
    await second.send_to(text_data=stop(3, line, sid))
    await expect_close(second, 1000)
    await second.disconnect()
    return await database_sync_to_async(events_of)(line, sid)

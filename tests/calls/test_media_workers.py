"""Calls through real daphne workers and the Twilio stand-in: barge-in cut by marks, and a
worker killed mid-call (SIGKILL) with the call resumed on another worker via <Redirect>."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest

from calls.audio import TELEPHONE_RATE
from calls.events import call_stream
from calls.models import Call, CallStatus
from calls.pipeline import DEMO_PROMPT
from calls.simulator import Account, run_call
from callseal.ledger.selectors import ledger_read_stream
from callseal.tenancy.context import tenant_context
from tests.calls.conftest import Line
from tests.conftest import ALL_DATABASES
from tests.live import ROOT, free_port, wait_for_http

pytestmark = [
    pytest.mark.django_db(transaction=True, databases=ALL_DATABASES),
    pytest.mark.slow,
]


@contextmanager
def daphne(port: int, **env: str) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
         "callseal.asgi:application"],
        cwd=ROOT,
        env={**os.environ, "CALLSEAL_SERVE_TEST_DATABASES": "true",
             "CALLSEAL_LOG_LEVEL": "WARNING", **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for_http(f"http://127.0.0.1:{port}/healthz")
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=10)


class Balancer:
    """A TCP load balancer stand-in: each new connection goes to the first worker that
    accepts it, so a killed worker's calls come back through the next one."""

    def __init__(self, backends: list[int]) -> None:
        self.backends = backends
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", self.port)
        )
        self.ready.set()
        self.loop.run_forever()
        # Stopped: close the listener, then end the connections still piped (their
        # `finally` closes the sockets) on this loop before closing it.
        server.close()
        pending = asyncio.all_tasks(self.loop)
        for task in pending:
            task.cancel()
        self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self.loop.run_until_complete(server.wait_closed())
        self.loop.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for port in self.backends:
            try:
                up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
                break
            except OSError:
                continue
        else:
            writer.close()
            return

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except OSError:
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    def __enter__(self) -> Balancer:
        self.thread.start()
        self.ready.wait(5)
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def account(line: Line, port: int) -> Account:
    return Account(f"http://127.0.0.1:{port}", line.number.e164, line.account_sid, line.auth_token)


def call_events(line: Line, call_sid: str) -> tuple[Call, list]:
    with tenant_context(line.number.tenant):
        call = Call.objects.get(twilio_call_sid=call_sid)
        return call, ledger_read_stream(stream_id=call_stream(call.id))


def test_caller_speech_cuts_the_agent_off_and_the_heard_text_ends_at_the_echoed_marks(line):
    port = free_port()
    silence = np.zeros(TELEPHONE_RATE * 700 // 1000, dtype=np.int16)
    t = np.arange(TELEPHONE_RATE // 2) / TELEPHONE_RATE
    speech = (5000 * np.sin(2 * np.pi * 180 * t)).astype(np.int16)
    with daphne(port, CALLSEAL_CALL_PIPELINE="calls.pipeline.PlaybackPipeline"):
        report = asyncio.run(
            run_call(account(line, port), np.concatenate([silence, speech]), echo=False,
                     barge_in=True, trailing_ms=300)
        )  # fmt: skip
    assert report.error is None
    assert report.clears == 1
    # Causal order: the clear answered the caller's first speech frame, and no agent audio
    # followed it. (The cut latency is recorded; the benchmark reports its distribution.)
    assert report.barge_in_cut_ms is not None
    assert report.barge_in_cut_ms > 0
    print(f"barge-in cut {report.barge_in_cut_ms:.1f} ms after the first speech frame")
    assert report.frames_after_clear == 0
    heard_ids = [int(name) for name in report.marks_heard]
    assert heard_ids == list(range(1, len(heard_ids) + 1))
    assert 1 <= len(heard_ids) < len(DEMO_PROMPT)
    call, events = call_events(line, report.call_sid)
    assert [e.type for e in events] == [
        "call.started",
        "consent.required",
        "stream.connected",
        "turn.interrupted",
        "stream.ended",
        "call.ended",
        "call.status_changed",  # Twilio's completed callback, after the stream's stop
    ]
    interrupted = events[3].data
    assert interrupted["heard_chunk_ids"] == heard_ids
    assert interrupted["heard_text"] == " ".join(DEMO_PROMPT[i - 1] for i in heard_ids)
    assert interrupted["discarded_ms"] > 0
    assert call.status == CallStatus.COMPLETED


def test_a_worker_killed_mid_call_loses_nothing_and_another_worker_resumes_it(line):
    first_port, second_port = free_port(), free_port()
    speech = 4000 * np.sin(2 * np.pi * 150 * np.arange(TELEPHONE_RATE * 3) / TELEPHONE_RATE)
    with (
        daphne(first_port) as first,
        daphne(second_port),
        Balancer([first_port, second_port]) as balancer,
    ):

        async def scenario():
            call = asyncio.create_task(
                run_call(account(line, balancer.port), speech.astype(np.int16), trailing_ms=200)
            )
            await asyncio.sleep(1.2)  # mid-call
            first.send_signal(signal.SIGKILL)
            # Reaped before the stand-in runs again: a process still exiting (its memory is
            # freed before its sockets close) can accept the <Redirect>'s connection into
            # its listener's backlog and then reset it, which a real load balancer would
            # retry on the next worker and this TCP stand-in does not.
            first.wait(timeout=10)
            return await call

        report = asyncio.run(scenario())
    assert report.error is None
    assert report.streams == 2
    assert report.close_code == 1000
    # Echo resumed: the frames sent after the kill came back from the second worker.
    assert report.frames_received > report.frames_sent // 2
    call, events = call_events(line, report.call_sid)
    assert [e.type for e in events] == [
        "call.started",
        "consent.required",
        "stream.connected",
        "call.resumed",
        "stream.connected",
        "stream.ended",
        "call.ended",
        "call.status_changed",
    ]
    assert events[3].data["previous_stream_ended"] is False
    assert (call.stream_count, call.status) == (2, CallStatus.COMPLETED)

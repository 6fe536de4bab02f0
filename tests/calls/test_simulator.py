from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import wave
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from websockets.asyncio.server import serve

from calls.audio import FRAME_MS, FRAME_SAMPLES, TELEPHONE_RATE, ulaw_decode, ulaw_encode
from calls.simulator import (
    Account,
    CallReport,
    WavError,
    load_wav,
    report_dict,
    run_call,
    summarise,
)

ROOT = Path(__file__).resolve().parents[2]


def write_wav(path: Path, pcm: np.ndarray, *, rate: int, width: int = 2, channels: int = 1) -> Path:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(width)
        wav.setframerate(rate)
        wav.writeframes(pcm.tobytes())
    return path


def test_wav_at_any_rate_is_resampled_to_8khz(tmp_path):
    pcm = (3000 * np.sin(np.arange(16000) / 16000 * 2 * np.pi * 200)).astype(np.int16)
    audio = load_wav(write_wav(tmp_path / "a.wav", pcm, rate=16000))
    assert len(audio) == 8000
    stereo = load_wav(write_wav(tmp_path / "s.wav", np.repeat(pcm, 2), rate=16000, channels=2))
    assert len(stereo) == 8000


def test_bad_audio_files_get_clear_errors(tmp_path):
    (tmp_path / "text.wav").write_text("not audio")
    eight_bit = write_wav(tmp_path / "8.wav", np.zeros(100, dtype=np.uint8), rate=8000, width=1)
    empty = write_wav(tmp_path / "e.wav", np.zeros(0, dtype=np.int16), rate=8000)
    with pytest.raises(WavError, match="not a PCM WAV"):
        load_wav(tmp_path / "text.wav")
    with pytest.raises(WavError, match="8-bit samples; 16-bit PCM is required"):
        load_wav(eight_bit)
    with pytest.raises(WavError, match="contains no audio"):
        load_wav(empty)
    with pytest.raises(CommandError, match="no such file"):
        call_command("simulate_calls", tenant="x", audio=[tmp_path / "missing.wav"])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(tmp_path):
    """A real daphne on a free port, embedded mode in its own var dir, seeded demo data."""
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not (k.endswith("DATABASE_URL") or k in ("REDIS_URL", "DJANGO_SECRET_KEY"))
    }
    env.update(
        CALLSEAL_VAR_DIR=str(tmp_path / "var"),
        CALLSEAL_PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        CALLSEAL_LOG_LEVEL="WARNING",
        # The demo numbers answer with an AI agent; these tests measure the media plane.
        CALLSEAL_CALL_PIPELINE="calls.pipeline.EchoPipeline",
    )
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate_all"], env=env, check=True, capture_output=True)
    subprocess.run([*manage, "seed_demo"], env=env, check=True, capture_output=True)
    daphne = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "callseal.asgi:application",
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        yield manage, env, port
    finally:
        daphne.terminate()
        daphne.wait(timeout=10)


@pytest.mark.slow
def test_simulated_calls_run_end_to_end_against_daphne_with_the_echo_pipeline(server, tmp_path):
    manage, env, port = server
    speech = (5000 * np.sin(np.arange(22050) / 22050 * 2 * np.pi * 180)).astype(np.int16)
    wav = write_wav(tmp_path / "caller.wav", speech, rate=22050)
    result = subprocess.run(
        [
            *manage,
            "simulate_calls",
            "--tenant",
            "acme-us",
            "--calls",
            "3",
            "--audio",
            str(wav),
            "--dtmf",
            "1",
            "--json",
            "--base-url",
            f"http://127.0.0.1:{port}",
        ],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    output = json.loads(result.stdout)
    summary = output["summary"]
    assert (summary["calls"], summary["failed"]) == (3, 0)
    assert summary["frames_lost"] == 0
    # Every caller frame came back (1 s of speech and 600 ms of trailing silence each).
    assert summary["frames_received"] == summary["frames_sent"] == 3 * 80
    # A mark per 200 ms of echo (EchoPipeline's mark_ms); every one was played and echoed.
    assert summary["marks_echoed"] == summary["marks_received"] == summary["frames_received"] // 10
    assert summary["voice_to_voice_ms"]["p50"] is not None
    assert summary["answer_to_first_audio_ms"]["p50"] is not None
    assert [c["close_code"] for c in output["calls"]] == [1000, 1000, 1000]
    # Twilio's completed status callback followed each call, signed, and was applied.
    assert [c["status_callback"] for c in output["calls"]] == [204, 204, 204]
    assert summary["status_callbacks_refused"] == 0
    applied = subprocess.run(
        [
            *manage,
            "shell",
            "-c",
            "from calls.models import Call; from callseal.tenancy.context import "
            "tenant_context; from callseal.tenancy.models import Tenant\n"
            "with tenant_context(Tenant.objects.get(slug='acme-us')):\n"
            "    print(sorted(Call.objects.values_list('status', 'status_sequence')))",
        ],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    assert applied.stdout.strip().splitlines()[-1] == str([("completed", 0)] * 3)


class _TwiML(BaseHTTPRequestHandler):
    """The voice webhook of a scripted agent: streams every call to ``stream_url``."""

    stream_url = ""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = (
            f'<Response><Connect><Stream url="{self.stream_url}"/></Connect></Response>'
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextlib.asynccontextmanager
async def _scripted_agent_account(agent):  # type: ignore[no-untyped-def]
    """The Account of a simulated number whose calls reach ``agent`` (a WebSocket handler)
    through ``_TwiML``."""
    async with serve(agent, "127.0.0.1", 0) as ws_server:
        ws_port = next(iter(ws_server.sockets)).getsockname()[1]
        _TwiML.stream_url = f"ws://127.0.0.1:{ws_port}/media-stream/"
        http = ThreadingHTTPServer(("127.0.0.1", 0), _TwiML)
        threading.Thread(target=http.serve_forever, daemon=True).start()
        try:
            yield Account(
                base_url=f"http://127.0.0.1:{http.server_port}",
                number="+14155550100",
                account_sid="AC" + "0" * 32,
                auth_token="token",
                status_callback=False,
            )
        finally:
            http.shutdown()
            http.server_close()


async def _call_scripted_agent(agent, caller: np.ndarray, **options):  # type: ignore[no-untyped-def]
    """One simulated call to ``agent`` (a WebSocket handler) behind ``_TwiML``."""
    async with _scripted_agent_account(agent) as account:
        options.setdefault("echo", False)
        return await run_call(account, caller, trailing_ms=600, **options)


def _agent_frame() -> str:
    tone = (4000 * np.sin(np.arange(FRAME_SAMPLES) * 2 * np.pi * 440 / TELEPHONE_RATE)).astype(
        np.int16
    )
    return json.dumps(
        {
            "event": "media",
            "streamSid": "MZ1",
            "media": {"payload": base64.b64encode(ulaw_encode(tone)).decode()},
        }
    )


def test_the_simulator_hears_dead_air_between_agent_audio_only_while_the_caller_is_silent():
    """A scripted agent: 0.5 s of audio in one burst (a lead, as our player sends), nothing
    for 0.3 s after it has played, 0.5 s more (one silence of ~300 ms: dead air) during
    which the caller speaks, so the ~1 s pause after it is the agent's latency, not dead
    air; then 0.5 s sent one frame every 20 ms (a sender pacing at real time with no lead:
    its jitter is not dead air); then a pause in which the caller speaks (their turn)."""
    frame_s = FRAME_SAMPLES / TELEPHONE_RATE
    frame = _agent_frame()

    async def agent(ws) -> None:  # type: ignore[no-untyped-def]
        async for raw in ws:
            if json.loads(raw).get("event") == "start":
                break
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        await asyncio.sleep(0.2)
        for _ in range(25):
            await ws.send(frame)
        await asyncio.sleep(0.5 + 0.3)  # it plays 0.5 s, then 0.3 s of nothing
        for _ in range(25):
            await ws.send(frame)
        await asyncio.sleep(max(0.0, t0 + 2.5 - loop.time()))  # the caller spoke 1.1-1.3 s
        start = loop.time()
        for i in range(25):
            await asyncio.sleep(max(0.0, start + i * frame_s - loop.time()))
            await ws.send(frame)
        await asyncio.sleep(max(0.0, t0 + 4.0 - loop.time()))  # the caller speaks 3.3-3.6 s
        for _ in range(5):
            await ws.send(frame)
        async for _ in ws:  # until the caller hangs up
            pass

    def quiet(s: float) -> np.ndarray:
        return np.zeros(int(s * TELEPHONE_RATE), dtype=np.int16)

    def speech(s: float) -> np.ndarray:
        t = np.arange(int(s * TELEPHONE_RATE)) / TELEPHONE_RATE
        return (5000 * np.sin(2 * np.pi * 180 * t)).astype(np.int16)

    caller = np.concatenate([quiet(1.1), speech(0.2), quiet(2.0), speech(0.3), quiet(1.0)])
    report = asyncio.run(_call_scripted_agent(agent, caller))
    assert report.error is None, report.error
    assert report.frames_received == 80
    assert len(report.dead_air_ms) == 1, report.dead_air_ms
    assert 250 <= report.dead_air_ms[0] < 1000, report.dead_air_ms


def test_steady_echo_lag_leaves_out_the_frames_that_waited_for_the_stream_set_up():
    """An echo agent that holds the first 15 caller frames (as a server authorising the
    stream would) and then echoes each frame as it comes: the first frame waited while the
    paced caller sent the other 14 (280 ms; half of it asserted, a loaded host may preempt
    the caller between its clock and its first send), and only the lag of frames sent after
    the first echo arrived is steady."""
    held = 15

    async def agent(ws) -> None:  # type: ignore[no-untyped-def]
        waiting: list[str] = []
        async for raw in ws:
            message = json.loads(raw)
            if message["event"] != "media":
                continue
            echo = json.dumps(
                {
                    "event": "media",
                    "streamSid": message["streamSid"],
                    "media": {"payload": message["media"]["payload"]},
                }
            )
            waiting.append(echo)
            if int(message["media"]["chunk"]) >= held:
                for frame in waiting:
                    await ws.send(frame)
                waiting.clear()

    caller = np.zeros(TELEPHONE_RATE, dtype=np.int16)
    report = asyncio.run(_call_scripted_agent(agent, caller, echo=True))
    assert report.error is None, report.error
    assert report.frames_lost == 0
    steady = report.echo_lag_steady_ms
    before = len(report.echo_lag_ms) - len(steady)
    assert before >= held
    assert steady == report.echo_lag_ms[before:]
    assert len(steady) > 0
    assert report.echo_lag_ms[0] >= (held - 1) * FRAME_MS / 2


def test_the_summary_judges_lag_from_when_all_calls_were_connected():
    """Frames sent before ``all_connected_at`` (other calls still arriving) are left out of
    ``echo_lag_all_connected_ms``; failed calls count nowhere."""
    early, late, failed = (
        CallReport(call_sid="CA1"),
        CallReport(call_sid="CA2"),
        CallReport(call_sid="CA3", error="ConnectionRefusedError"),
    )
    early.echo_lag_steady_ms, early.echo_steady_sent_at = [90.0, 2.0], [10.0, 12.0]
    late.echo_lag_steady_ms, late.echo_steady_sent_at = [4.0] * 10, [11.0 + k for k in range(10)]
    failed.echo_lag_steady_ms, failed.echo_steady_sent_at = [500.0], [20.0]
    summary = summarise([early, late, failed], all_connected_at=11.0)
    assert summary["echo_lag_all_connected_ms"]["p99"] == pytest.approx(4.0)
    assert summary["echo_lag_steady_ms"]["p99"] > 4.0  # the early 90 ms frame counts there
    assert "echo_lag_all_connected_ms" not in summarise([early])
    assert "echo_steady_sent_at" not in report_dict(early)
    assert report_dict(early)["echo_lag_steady_ms"]["p50"] == pytest.approx(46.0)


@pytest.mark.parametrize(
    ("greeting_after_ms", "listen_first_s", "script_from_ms"),
    [
        (1000, 5.0, None),  # the caller hears the greeting, then its script begins
        (1000, 0.4, 400),  # no greeting in time: the script begins when the wait is over
    ],
)
def test_a_caller_that_listens_first_starts_its_script_when_it_hears_the_agent(
    greeting_after_ms, listen_first_s, script_from_ms
):
    """A person waits to hear the greeting before speaking or pressing keys: silence goes
    up the stream meanwhile (chunks and timestamps counting it, as Twilio's do), and the
    script's keys keep their times relative to its start. Times are the stream's own
    (``media.timestamp``), so a slow host moves nothing."""
    received: list[dict] = []
    greeted_at: list[int] = []

    async def agent(ws) -> None:  # type: ignore[no-untyped-def]
        async for raw in ws:
            message = json.loads(raw)
            received.append(message)
            if message["event"] != "media" or greeted_at:
                continue
            if int(message["media"]["timestamp"]) >= greeting_after_ms:
                greeted_at.append(int(message["media"]["timestamp"]))
                for _ in range(10):
                    await ws.send(_agent_frame())

    from calls.simulator import with_keypad

    t = np.arange(int(0.3 * TELEPHONE_RATE)) / TELEPHONE_RATE
    speech = (5000 * np.sin(2 * np.pi * 180 * t)).astype(np.int16)
    caller = np.concatenate([np.zeros(TELEPHONE_RATE // 2, dtype=np.int16), speech])
    keys = [(200, "1")]  # its tone from 200 ms into the script, its event at the tone's end
    report = asyncio.run(
        _call_scripted_agent(
            agent, with_keypad(caller, keys), dtmf=keys, listen_first_s=listen_first_s
        )
    )
    assert report.error is None, report.error
    media = [m["media"] for m in received if m["event"] == "media"]
    assert [int(m["chunk"]) for m in media] == list(range(1, len(media) + 1))
    assert [int(m["timestamp"]) for m in media] == [20 * i for i in range(len(media))]
    assert report.frames_sent == len(media)
    loud = [
        int(m["timestamp"])
        for m in media
        if np.abs(ulaw_decode(base64.b64decode(m["payload"])).astype(np.int32)).max() > 1000
    ]
    if script_from_ms is None:
        # Silence until the greeting reached the caller (a few frames after it was sent).
        assert greeted_at[0] + 200 <= loud[0] <= greeted_at[0] + 200 + 100, (greeted_at, loud)
    else:
        assert loud[0] == script_from_ms + 200, loud
    # The key's event follows the frame that ends its tone, 100 ms after the tone began.
    at = next(i for i, m in enumerate(received) if m["event"] == "dtmf")
    assert received[at]["dtmf"]["digit"] == "1"
    assert int(received[at - 1]["media"]["timestamp"]) == loud[0] + 100, received[at - 1]


def test_a_caller_that_listens_first_needs_an_agent_and_a_wait_that_is_not_negative():
    silence = np.zeros(TELEPHONE_RATE // 10, dtype=np.int16)
    account = Account(
        base_url="http://127.0.0.1:9",
        number="+14155550100",
        account_sid="AC" + "0" * 32,
        auth_token="token",
    )
    with pytest.raises(ValueError, match="needs an agent"):
        asyncio.run(run_call(account, silence, echo=True, listen_first_s=1.0))
    with pytest.raises(ValueError, match="negative"):
        asyncio.run(run_call(account, silence, echo=False, listen_first_s=-1.0))

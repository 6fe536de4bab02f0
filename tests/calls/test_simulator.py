from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import wave
from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from calls.simulator import WavError, load_wav

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

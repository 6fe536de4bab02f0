"""The AI voice agent end to end vs Pipecat 1.14 (issue 5): voice-to-voice and time to
first word, over the phone line, on this machine's CPU.

Ours: the us region's inference service (faster-whisper tiny.en int8, Piper joe-medium),
its llama.cpp server (SmolLM2-135M) and a daphne serving a seeded tenant whose number is
answered by an AI agent (no knowledge base, so every turn is ASR → LLM → TTS). The peer:
benchmarks/pipecat_agent_server.py, Pipecat's own services (Silero VAD and its default
turn strategies with the bundled smart-turn v3 model, WhisperSTTService on the same model
directory and compute type, OpenAILLMService on the *same* llama.cpp server,
PiperTTSService on the same voice file) in its own virtualenv; no Pipecat service needed
replacing, and nothing is downloaded. Both get the same system prompt, greeting text, reply
token limit and temperature.

The same simulator (calls/simulator.py: Twilio's signed webhook, TwiML <Stream>, 20 ms
μ-law frames paced in real time) places CALLS calls a side, one call at a time, the sides
alternating (both stay up, idle between their calls, so that other work on this shared
machine weighs on both alike; the share it took is printed). Callers are the LibriVox clips
of Debian's pocketsphinx-testdata and espeak-ng questions, each after enough silence for
the greeting to finish. One warm-up call per side is not counted. Per call:
- voice-to-voice: the caller's last loud frame sent → the first loud agent frame received;
- time to first word: the webhook answered → the first agent audio frame (the greeting).
Targets (issue 5): ours p50 ≤ 900 ms, p95 ≤ 1,500 ms, p50 ≤ 0.8 x Pipecat's, TTFW ≤ 700 ms.
Missed targets are reported, not failed (main() returns 1 only when the run itself broke).

Where the time goes: ours from the ledger's ``turn.latency`` events (ms after the VAD's
end of speech), Pipecat's from the probe in its server (ms after its VAD stop event, which
comes ``stop_secs`` = 0.2 s after the speech ended). The agent's no-audio fallback is set to
8 s so that a slow reply is measured rather than replaced by the apology. Silences inside
our agent's utterances (the player ran dry mid-reply) come from ``turn.underrun``; dead air
on both sides, as the caller hears it, from the simulator (``CallReport.dead_air_ms``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.bench_telephony import _process_cpu_s

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"
WORK = VAR / "bench-voice-agent"
PIPECAT_VENV = VAR / "bench-venvs" / "pipecat"
PIPECAT_STAMP = PIPECAT_VENV / ".voice-agent-extras"
# The peer's packages; the model engines at the versions our requirements.txt pins.
PIPECAT_PACKAGES = [
    "pipecat-ai[websocket,silero,whisper,piper,openai]==1.14.0",
    "uvicorn==0.38.0",
    "faster-whisper==1.2.1",
    "ctranslate2==4.8.5",
    "piper-tts==1.8.0",
    "onnxruntime==1.31.1",
]
CALLS = 20
NUMBER = "+14155550100"  # seed_demo's acme-us number
SYSTEM_PROMPT = "You are the friendly phone assistant of Acme Dental."
GREETING = "Hello, Acme Dental."
QUESTIONS = [
    "Can I book a cleaning for next Tuesday?",
    "Do you take new patients at the moment?",
    "What should I bring to my first visit?",
    "How long does a filling usually take?",
    "Is there a dentist in on Saturday morning?",
    "Can my daughter come in with me?",
    "Do you do teeth whitening?",
    "My tooth hurts when I drink something cold.",
    "How much does a check up cost?",
    "Can I change my appointment to the afternoon?",
]
# Silence after the caller's words: the reply's first audio lands in it (or in the second
# the stand-in waits for marks before hanging up). A call with no reply by then counts as
# slower than any answered one in the percentiles.
TRAILING_MS = 3500
LEAD_MARGIN_S = 1.5  # silence after the greeting's length before the caller speaks
TARGETS = {"p50": 900.0, "p95": 1500.0, "ratio": 0.8, "ttfw": 700.0}


# --- processes -----------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_http(url: str, process: subprocess.Popen[bytes], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the server exited ({process.returncode})")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - loopback URL we built
                return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not come up in {timeout:.0f} s") from None
            time.sleep(0.3)


SERVER_PIDS: set[int] = set()  # the servers this run started (their CPU time is "ours")


def _cpu_seconds() -> tuple[float, float]:
    """(CPU seconds the whole machine has been busy, CPU seconds of this process and the
    servers it started), to tell how much other work shared the cores during a side."""
    tick = os.sysconf("SC_CLK_TCK")
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    busy = (sum(fields[:8]) - fields[3] - fields[4]) / tick  # all but idle and iowait
    own = sum(os.times()[:4])
    for pid in SERVER_PIDS:
        with contextlib.suppress(OSError):
            own += _process_cpu_s(pid)
    return busy, own


@contextmanager
def _server(name: str, argv: list[str], env: dict[str, str], ready_url: str) -> Iterator[None]:
    log = (WORK / f"{name}.log").open("wb")
    process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=log)
    SERVER_PIDS.add(process.pid)
    try:
        _wait_http(ready_url, process)
        yield
    finally:
        SERVER_PIDS.discard(process.pid)
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()


def _base_env() -> dict[str, str]:
    """The embedded mode (SQLite under WORK) whatever the caller's environment says."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not (k.endswith("DATABASE_URL") or k in ("REDIS_URL", "DJANGO_SECRET_KEY"))
    }
    env.update(
        CALLSEAL_VAR_DIR=str(WORK),
        CALLSEAL_LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="callseal.settings",
        HF_HUB_OFFLINE="1",
    )
    return env


def _ensure_pipecat() -> Path:
    python = PIPECAT_VENV / "bin" / "python"
    if not python.exists():
        print("creating the Pipecat virtualenv under var/bench-venvs/ ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(PIPECAT_VENV)], check=True)
    if not PIPECAT_STAMP.exists():
        print("installing Pipecat 1.14 with its local STT/TTS extras ...", flush=True)
        pip = [str(PIPECAT_VENV / "bin" / "pip"), "install", "-q", *PIPECAT_PACKAGES]
        subprocess.run(pip, check=True)
        PIPECAT_STAMP.write_text("\n".join(PIPECAT_PACKAGES) + "\n")
    return python


# --- the seeded tenant (run in a subprocess: Django configured for WORK) -------------------
def _seed_agent() -> None:
    import django

    django.setup()
    from agents.services import agent_create
    from agents.spec import AgentSpec
    from calls.models import PhoneNumber
    from calls.services import phone_number_configure
    from callseal.tenancy.context import tenant_context
    from callseal.tenancy.management.commands.seed_demo import demo_twilio_account
    from callseal.tenancy.models import Membership, Tenant

    tenant = Tenant.objects.get(slug="acme-us")
    actor = Membership.objects.get(tenant=tenant, user__username="acme-us-admin")
    spec = AgentSpec(
        name="Bench front desk",
        system_prompt=SYSTEM_PROMPT,
        greeting=GREETING,
        tools=("escalate_to_human", "end_call"),
    )
    with tenant_context(tenant):
        agent = agent_create(actor=actor, spec=spec)
    account_sid, auth_token = demo_twilio_account("acme-us")
    phone_number_configure(
        phone_number=PhoneNumber.objects.get(e164=NUMBER),
        account_sid=account_sid,
        auth_token=auth_token,
        agent_id=agent.id,
    )
    print(json.dumps({"account_sid": account_sid, "auth_token": auth_token}))


def _dump_turns(call_sids: list[str]) -> None:
    """Per call: its turn.latency events, what the caller said and what the agent did."""
    import django

    django.setup()
    from calls.models import Call
    from calls.services import call_events
    from callseal.tenancy.context import tenant_context
    from callseal.tenancy.models import Tenant

    tenant = Tenant.objects.get(slug="acme-us")
    out: dict[str, Any] = {}
    with tenant_context(tenant):
        for sid in call_sids:
            call = Call.objects.filter(twilio_call_sid=sid).first()
            if call is None:
                continue
            events = call_events(call_id=call.id)
            out[sid] = {
                "latency": [e.data for e in events if e.type == "turn.latency"],
                # The bench's callers do not consent, so only the redacted words are kept.
                "caller": [
                    e.data.get("text") or e.data.get("redacted_text")
                    for e in events
                    if e.type == "turn.caller"
                ],
                "agent": [
                    (e.data.get("kind"), e.data.get("text") or e.data.get("redacted_text"))
                    for e in events
                    if e.type == "turn.agent"
                ],
                "fallbacks": [e.data.get("reason") for e in events if e.type == "agent.fallback"],
                "underruns": [e.data for e in events if e.type == "turn.underrun"],
            }
    print(json.dumps(out, default=str))


def _django(command: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_voice_agent", command, *args],
        cwd=ROOT,
        env=_base_env(),
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip().splitlines()[-1]


# --- caller audio --------------------------------------------------------------------------
def _caller_clips() -> list[tuple[str, np.ndarray]]:
    """(label, 8 kHz int16 speech): LibriVox clips and espeak-ng questions, alternating."""
    from calls.audio import TELEPHONE_RATE, resample_once
    from calls.simulator import load_wav
    from tests.speech import espeak, librivox_clips

    librivox = [(path.stem[-4:], load_wav(path)) for path, _ in librivox_clips()]
    spoken = []
    for text in QUESTIONS:
        pcm = (espeak(text) * 20000).astype(np.int16)
        spoken.append((text, resample_once(pcm, in_rate=16000, out_rate=TELEPHONE_RATE)))
    clips = []
    for i in range(max(len(librivox), len(spoken))):
        if i < len(librivox):
            clips.append((f"librivox {librivox[i][0]}", librivox[i][1]))
        if i < len(spoken):
            clips.append((f"espeak {spoken[i][0]!r}", spoken[i][1]))
    return clips


def _greeting_seconds(text: str) -> float:
    """How long the greeting plays (same Piper voice on both sides)."""
    from inference import assets
    from inference.tts import PiperEngine

    engine = PiperEngine(assets.piper_voice(region="us", voice="en_US-joe-medium"))
    samples = sum(len(chunk) for chunk in engine.synthesize(text))
    return samples / engine.sample_rate


def _with_lead(pcm: np.ndarray, lead_s: float) -> np.ndarray:
    from calls.audio import TELEPHONE_RATE

    return np.concatenate([np.zeros(int(lead_s * TELEPHONE_RATE), dtype=np.int16), pcm])


# --- driving both sides --------------------------------------------------------------------
def _drive(
    sides: dict[str, Any], clips: list[tuple[str, np.ndarray]], greeting_s: float
) -> dict[str, list[Any]]:
    """Warm each side up with one call, then place CALLS calls a side, alternating between
    the sides, so that whatever else runs on the machine weighs on both alike."""
    from calls.simulator import run_call

    def one(account: Any, audio: np.ndarray) -> Any:
        return asyncio.run(run_call(account, audio, echo=False, trailing_ms=TRAILING_MS))

    lead_s = greeting_s + LEAD_MARGIN_S
    for name, account in sides.items():  # not counted: models load, caches fill
        warm = one(account, _with_lead(clips[1][1], lead_s + 2.0))
        if warm.error:
            raise RuntimeError(f"{name}: warm-up call failed: {warm.error}")
        print(
            f"  {name}: warm-up call TTFW {_fmt(warm.answer_to_first_audio_ms).strip()} ms, "
            f"v2v {_fmt(warm.voice_to_voice_ms).strip()} ms",
            flush=True,
        )
    print(f"  callers speak {lead_s:.1f} s after the answer", flush=True)
    reports: dict[str, list[Any]] = {name: [] for name in sides}
    busy0, own0, wall0 = *_cpu_seconds(), time.monotonic()
    for i in range(CALLS):
        label, pcm = clips[i % len(clips)]
        for name, account in sides.items():
            report = one(account, _with_lead(pcm, lead_s))
            reports[name].append(report)
            v2v, ttfw = report.voice_to_voice_ms, report.answer_to_first_audio_ms
            print(
                f"    call {i + 1:2d} {name:>12} {label[:40]:40} v2v "
                f"{'no reply' if v2v is None else f'{v2v:.0f} ms':>8}  TTFW "
                f"{'-' if ttfw is None else f'{ttfw:.0f}':>5} ms"
                + (f"  ERROR {report.error}" if report.error else ""),
                flush=True,
            )
            time.sleep(0.3)  # the server closes the call's stream before the next one opens
    busy1, own1 = _cpu_seconds()
    cores = os.cpu_count() or 1
    wall = time.monotonic() - wall0
    other = max(0.0, (busy1 - busy0) - (own1 - own0)) / (wall * cores)
    print(
        f"  during the calls the benchmark's processes used "
        f"{(own1 - own0) / (wall * cores):.0%} of the {cores} cores, other work on the "
        f"machine {other:.0%}",
        flush=True,
    )
    return reports


def _pct(values: list[float]) -> tuple[float | None, float | None]:
    """p50 and p95; ``inf`` stands for a call that got no reply (slower than any other)."""
    if not values:
        return None, None
    p50, p95 = np.percentile(np.array(values), [50, 95], method="nearest")
    return float(p50), float(p95)


def _fmt(value: float | None) -> str:
    if value is None:
        return "  n/a"
    return " none" if value == float("inf") else f"{value:5.0f}"


def _summary(reports: list[Any]) -> dict[str, Any]:
    ok = [r for r in reports if r.error is None]
    v2v = [float("inf") if r.voice_to_voice_ms is None else r.voice_to_voice_ms for r in ok]
    ttfw = [
        float("inf") if r.answer_to_first_audio_ms is None else r.answer_to_first_audio_ms
        for r in ok
    ]
    return {
        "calls": len(reports),
        "failed": len(reports) - len(ok),
        "no_reply": sum(1 for r in ok if r.voice_to_voice_ms is None),
        "v2v": _pct(v2v),
        "ttfw": _pct(ttfw),
        "v2v_ms": v2v,
        "ttfw_ms": ttfw,
        # The simulator's ear: silences inside the agent's speech (CallReport.dead_air_ms).
        "dead_air_ms": [gap for r in ok for gap in r.dead_air_ms],
    }


def _stage_table(title: str, rows: list[dict[str, float | None]], keys: list[str]) -> None:
    print(f"  {title} (n={len(rows)}): " + ", ".join(f"{k} p50/p95" for k in keys))
    cells = []
    for key in keys:
        p50, p95 = _pct([float(v) for r in rows if (v := r.get(key)) is not None])
        cells.append(f"{key} {_fmt(p50).strip()}/{_fmt(p95).strip()} ms")
    print("    " + "; ".join(cells))


# --- the two sides -------------------------------------------------------------------------
@contextmanager
def _ours(llm_url: str) -> Iterator[Any]:
    """The us region's inference service and a daphne on the seeded tenant; yields the
    simulator's account for the agent's number."""
    from calls.simulator import Account

    env = _base_env()
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate_all"], env=env, check=True, capture_output=True, cwd=ROOT)
    subprocess.run([*manage, "seed_demo"], env=env, check=True, capture_output=True, cwd=ROOT)
    creds = json.loads(_django("seed"))
    inference_port, web_port = _free_port(), _free_port()
    inference_url = f"http://127.0.0.1:{inference_port}"
    service_env = {**env, "INFERENCE_ASR_MODELS": "tiny.en"}
    daphne_env = {
        **env,
        "CALLSEAL_PUBLIC_BASE_URL": f"http://127.0.0.1:{web_port}",
        "REGION_US_INFERENCE_URL": inference_url,
        "REGION_US_LLM_URL": llm_url,
        "CALLSEAL_AGENT_NO_AUDIO_S": "8",
    }
    serve = [sys.executable, "-m", "inference", "serve", "--region", "us"]
    daphne = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(web_port)]
    with (
        _server(
            "inference",
            [*serve, "--port", str(inference_port)],
            service_env,
            inference_url + "/healthz",
        ),
        _server(
            "daphne",
            [*daphne, "callseal.asgi:application"],
            daphne_env,
            f"http://127.0.0.1:{web_port}/healthz",
        ),
    ):
        yield Account(
            base_url=f"http://127.0.0.1:{web_port}",
            number=NUMBER,
            account_sid=creds["account_sid"],
            auth_token=creds["auth_token"],
        )


def _ours_turns(reports: list[Any]) -> dict[str, Any]:
    """The ledger's view of our calls (after daphne has recorded them)."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump([r.call_sid for r in reports], f)
    try:
        turns: dict[str, Any] = json.loads(_django("turns", f.name))
    finally:
        os.unlink(f.name)
    return turns


PIPECAT_TIMINGS = WORK / "pipecat-turns.jsonl"


@contextmanager
def _pipecat(llm_url: str, model: str) -> Iterator[Any]:
    """benchmarks/pipecat_agent_server.py in its virtualenv; yields the simulator's
    account (the peer checks no signatures)."""
    from agents.voice.context import REPLY_STYLE
    from calls.simulator import Account
    from inference import assets

    python = _ensure_pipecat()
    voice = assets.piper_voice(region="us", voice="en_US-joe-medium").path
    PIPECAT_TIMINGS.unlink(missing_ok=True)
    port = _free_port()
    argv = [
        str(python),
        str(ROOT / "benchmarks" / "pipecat_agent_server.py"),
        "--port",
        str(port),
        "--whisper-dir",
        str(assets.whisper_tiny_en(region="us").path),
        "--voice-dir",
        str(voice.parent),
        "--voice",
        voice.stem,
        "--llm-url",
        llm_url,
        "--llm-model",
        model,
        "--system-prompt",
        f"{SYSTEM_PROMPT}\n{REPLY_STYLE}",
        "--greeting",
        f"{GREETING} {_consent_announcement()}",
        "--max-tokens",
        str(_max_reply_tokens()),
        "--timings",
        str(PIPECAT_TIMINGS),
    ]
    # faster-whisper's default is 4 CPU threads; ours runs with 2 (INFERENCE_CPU_THREADS).
    env = {**_base_env(), "OMP_NUM_THREADS": "2"}
    with _server("pipecat", argv, env, f"http://127.0.0.1:{port}/docs"):
        yield Account(
            base_url=f"http://127.0.0.1:{port}",
            number=NUMBER,
            account_sid="AC" + "0" * 32,
            auth_token="0" * 32,
            status_callback=False,  # its server has no status callback endpoint
        )


def _pipecat_turns(reports: list[Any]) -> list[dict[str, Any]]:
    sids = {r.call_sid for r in reports}
    last: dict[str, dict[str, Any]] = {}  # per call, the VAD stop that ended the turn
    if PIPECAT_TIMINGS.exists():
        for line in PIPECAT_TIMINGS.read_text().splitlines():
            row = json.loads(line)
            if row.get("call_sid") in sids and "transcription" in row:
                last[row["call_sid"]] = row
    return list(last.values())


def _consent_announcement() -> str:
    """What our agent says after the greeting to the simulator's caller (a non-geographic
    number: explicit consent), so that both sides speak the same words."""
    from django.conf import settings

    from compliance.consent import Requirement, announcement_text

    return announcement_text(settings.CALLSEAL_CONSENT_ANNOUNCEMENT, Requirement.EXPLICIT)


def _max_reply_tokens() -> int:
    from django.conf import settings

    return int(settings.CALLSEAL_AGENT_MAX_REPLY_TOKENS)


def _print_breakdowns(ours: dict[str, Any], peer: dict[str, Any]) -> None:
    rows: list[dict[str, float | None]] = []
    for call in ours["turns"].values():
        for lat in call["latency"]:
            rows.append(
                {
                    "asr_final": lat.get("asr_final_ms"),
                    "llm_first_token": lat.get("llm_first_token_ms"),
                    "tts_first_audio": lat.get("tts_first_audio_ms"),
                    "first_frame": lat.get("first_frame_ms"),
                }
            )
    keys = ["asr_final", "llm_first_token", "tts_first_audio", "first_frame"]
    _stage_table("callseal stages, ms after the VAD's end of speech", rows, keys)
    speculative = sum(
        1 for call in ours["turns"].values() for lat in call["latency"] if lat.get("speculative")
    )
    fallbacks = [f for call in ours["turns"].values() for f in call["fallbacks"]]
    print(f"    speculative turns {speculative}/{len(rows)}; fallbacks {fallbacks or 'none'}")
    # Dead air inside an utterance (the player ran dry between TTS pieces): turn.underrun.
    underruns = [u for call in ours["turns"].values() for u in call["underruns"]]
    replies = sum(len(call["agent"]) for call in ours["turns"].values())
    if not underruns:
        print(f"    silences inside agent utterances (turn.underrun): none in {replies}")
    else:
        print(
            f"    silences inside agent utterances (turn.underrun): "
            f"{sum(u['gaps'] for u in underruns)} gaps in {len(underruns)} of {replies} "
            f"utterances, {sum(u['silence_ms'] for u in underruns)} ms in all, longest "
            f"{max(u['longest_ms'] for u in underruns)} ms"
        )
    peer_rows: list[dict[str, float | None]] = []
    for row in peer["turns"]:
        stop = row["vad_stop"]
        peer_rows.append(
            {
                k: (round((row[k] - stop) * 1000) if k in row else None)
                for k in ("transcription", "llm_first_text", "tts_first_audio", "first_out")
            }
        )
    peer_keys = ["transcription", "llm_first_text", "tts_first_audio", "first_out"]
    _stage_table(
        "pipecat stages, ms after the VAD stop that ended the turn (0.2 s after speech)",
        peer_rows,
        peer_keys,
    )


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "callseal.settings")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    started = time.monotonic()
    WORK.mkdir(parents=True, exist_ok=True)
    from calls.simulator import DEAD_AIR_MIN_MS, dead_air_summary
    from inference import assets
    from inference.llm_server import llm_server_argv, llm_server_env

    try:
        _ensure_pipecat()
        clips = _caller_clips()
        greeting = f"{GREETING} {_consent_announcement()}"
        greeting_s = _greeting_seconds(greeting)
        llm_port = _free_port()
        llm_url = f"http://127.0.0.1:{llm_port}/v1"
        llm_argv = llm_server_argv(region="us", host="127.0.0.1", port=llm_port)
        model = assets.llm_gguf(region="us").name
        print(
            f"{CALLS} calls a side, one at a time, the sides alternating; {len(clips)} caller "
            f"clips (LibriVox, espeak-ng); greeting {greeting_s:.1f} s; one llama.cpp server "
            f"({model}) for both",
            flush=True,
        )
        with (
            _server("llm", llm_argv, llm_server_env(_base_env()), llm_url + "/models"),
            _ours(llm_url) as our_account,
            _pipecat(llm_url, model) as peer_account,
        ):
            reports = _drive(
                {"callseal": our_account, "pipecat-1.14": peer_account}, clips, greeting_s
            )
        ours = {**_summary(reports["callseal"]), "turns": _ours_turns(reports["callseal"])}
        peer_reports = reports["pipecat-1.14"]
        peer = {**_summary(peer_reports), "turns": _pipecat_turns(peer_reports)}
    except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        if isinstance(exc, subprocess.CalledProcessError) and exc.stderr:
            print(str(exc.stderr)[-2000:], file=sys.stderr)
        return 1

    print("voice-to-voice (caller's end of speech → first agent audio) and time to first word")
    for name, r in (("callseal", ours), ("pipecat-1.14", peer)):
        (v50, v95), (t50, t95) = r["v2v"], r["ttfw"]
        print(
            f"  {name:>12}: v2v p50 {_fmt(v50)} ms  p95 {_fmt(v95)} ms   TTFW p50 {_fmt(t50)} ms "
            f" p95 {_fmt(t95)} ms   ({r['calls']} calls, {r['failed']} failed, "
            f"{r['no_reply']} without a reply)"
        )
    ours_p50, peer_p50 = ours["v2v"][0], peer["v2v"][0]
    finite = all(v is not None and v != float("inf") for v in (ours_p50, peer_p50))
    ratio = ours_p50 / peer_p50 if finite and ours_p50 is not None and peer_p50 else None
    print(f"  ratio callseal / pipecat v2v p50: {'n/a' if ratio is None else f'{ratio:.2f}x'}")
    checks = {
        "v2v p50 <= 900 ms": ours_p50 is not None and ours_p50 <= TARGETS["p50"],
        "v2v p95 <= 1500 ms": ours["v2v"][1] is not None and ours["v2v"][1] <= TARGETS["p95"],
        "p50 <= 0.8x pipecat": ratio is not None and ratio <= TARGETS["ratio"],
        "TTFW <= 700 ms (p95)": ours["ttfw"][1] is not None and ours["ttfw"][1] <= TARGETS["ttfw"],
        "every call answered": ours["failed"] == 0 and ours["no_reply"] == 0,
    }
    print("  targets: " + "; ".join(f"{k}: {'met' if v else 'MISSED'}" for k, v in checks.items()))
    print(
        f"dead air heard by the caller (the simulator: agent audio resumed after Twilio's "
        f"buffer ran dry, the caller silent since the audio before it began, gaps from "
        f"{DEAD_AIR_MIN_MS:.0f} ms)"
    )
    for name, r in (("callseal", ours), ("pipecat-1.14", peer)):
        air = dead_air_summary(r["dead_air_ms"])
        detail = (
            f"{air['gaps']} gaps, {air['total_ms']:.0f} ms in all, longest "
            f"{air['longest_ms']:.0f} ms"
            if air["gaps"]
            else "none"
        )
        print(f"  {name:>12}: {detail} in {r['calls'] - r['failed']} calls")
    _print_breakdowns(ours, peer)
    print(f"  wall time {time.monotonic() - started:.0f} s; details in var/bench-voice-agent.json")
    (VAR / "bench-voice-agent.json").write_text(
        json.dumps({"callseal": ours, "pipecat": peer}, indent=2, default=str)
    )
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "seed":
        _seed_agent()
    elif len(sys.argv) > 2 and sys.argv[1] == "turns":
        _dump_turns(json.loads(Path(sys.argv[2]).read_text()))
    else:
        raise SystemExit(main())

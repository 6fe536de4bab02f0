"""A faithful stand-in for Twilio: places calls against our webhooks and media stream.

It signs the voice webhook and the WebSocket handshake with the account's auth token as
Twilio does, reads the TwiML, streams caller audio as 20 ms μ-law frames at real-time pace
with Twilio's sequenceNumber/chunk/timestamp, keeps a playback buffer for agent audio,
echoes each mark only when the audio before it would have finished playing (at once on
``clear``, as Twilio does), and sends ``stop``. It is also the benchmarks' load generator.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import urllib.parse
import urllib.request
import uuid
import wave
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import numpy as np
from twilio.request_validator import RequestValidator
from websockets.asyncio.client import connect

from calls.audio import (
    FRAME_MS,
    FRAME_SAMPLES,
    TELEPHONE_RATE,
    Pcm,
    resample_once,
    ulaw_decode,
    ulaw_encode,
)

SPEECH_RMS = 300.0  # int16 RMS above which a frame counts as speech


class WavError(ValueError):
    pass


def load_wav(path: Path) -> Pcm:
    """A mono 16-bit PCM WAV at any rate → 8 kHz int16; clear errors for anything else."""
    try:
        with wave.open(str(path), "rb") as wav:
            width, channels, rate = wav.getsampwidth(), wav.getnchannels(), wav.getframerate()
            raw = wav.readframes(wav.getnframes())
    except FileNotFoundError:
        raise WavError(f"{path}: no such file") from None
    except (wave.Error, EOFError) as exc:
        raise WavError(f"{path}: not a PCM WAV file ({exc})") from None
    if width != 2:
        raise WavError(f"{path}: {8 * width}-bit samples; 16-bit PCM is required")
    if not raw:
        raise WavError(f"{path}: contains no audio")
    pcm = np.frombuffer(raw, dtype="<i2").astype(np.int16)
    if channels > 1:
        pcm = pcm.reshape(-1, channels).mean(axis=1).astype(np.int16)
    return resample_once(pcm, in_rate=rate, out_rate=TELEPHONE_RATE)


def synthetic_speech(ms: int = 1500) -> Pcm:
    """A voiced-sounding caller utterance (harmonics of 140 Hz) when no WAV is given."""
    t = np.arange(TELEPHONE_RATE * ms // 1000) / TELEPHONE_RATE
    wave_ = sum(np.sin(2 * np.pi * 140 * k * t) / k for k in range(1, 12))
    envelope = np.minimum(1.0, np.minimum(t, t[-1] - t) * 20)
    return (4000 * wave_ * envelope).astype(np.int16)


@dataclass(frozen=True)
class Account:
    base_url: str  # where the voice webhook lives, e.g. http://127.0.0.1:8123
    number: str
    account_sid: str
    auth_token: str


@dataclass
class CallReport:
    call_sid: str
    frames_sent: int = 0
    frames_received: int = 0
    frames_lost: int | None = None  # echo mode: sent frames whose audio never came back
    marks_received: int = 0
    marks_echoed: int = 0
    clears: int = 0
    answer_to_first_audio_ms: float | None = None
    voice_to_voice_ms: float | None = None
    barge_in_cut_ms: float | None = None
    max_send_slip_ms: float = 0.0
    echo_lag_ms: list[float] = field(default_factory=list)
    close_code: int | None = None
    error: str | None = None


class _Twilio:
    """The per-call state of the stand-in: sequence numbers and the playback buffer."""

    def __init__(self, stream_sid: str) -> None:
        self.stream_sid = stream_sid
        self.sequence = 0
        self.play_end = 0.0
        self.pending_marks: deque[tuple[float, str]] = deque()

    def next_sequence(self) -> str:
        self.sequence += 1
        return str(self.sequence)

    def mark(self, name: str) -> str:
        return json.dumps(
            {
                "event": "mark",
                "sequenceNumber": self.next_sequence(),
                "streamSid": self.stream_sid,
                "mark": {"name": name},
            }
        )


def _post_signed(url: str, params: dict[str, str], auth_token: str) -> tuple[int, str]:
    signature = RequestValidator(auth_token).compute_signature(url, params)
    request = urllib.request.Request(  # noqa: S310 - URL from the operator's command line
        url,
        data=urllib.parse.urlencode(params).encode(),
        headers={"X-Twilio-Signature": signature},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return response.status, response.read().decode()


def _stream_from_twiml(twiml: str) -> tuple[str, dict[str, str]]:
    root = ElementTree.fromstring(twiml)  # noqa: S314 - TwiML from the server under test
    stream = root.find("Connect/Stream")
    if stream is None:
        raise RuntimeError(f"TwiML has no <Connect><Stream>: {twiml[:200]}")
    params = {p.get("name", ""): p.get("value", "") for p in stream.findall("Parameter")}
    return stream.get("url", ""), params


async def run_call(
    account: Account,
    audio: Pcm,
    *,
    dtmf: str = "",
    barge_in: bool = False,
    echo: bool = True,
    trailing_ms: int = 600,
) -> CallReport:
    call_sid = "CA" + uuid.uuid4().hex
    report = CallReport(call_sid=call_sid)
    params = {
        "AccountSid": account.account_sid,
        "ApiVersion": "2010-04-01",
        "CallSid": call_sid,
        "CallStatus": "ringing",
        "Direction": "inbound",
        "From": "+15005550006",
        "To": account.number,
    }
    try:
        status, twiml = await asyncio.to_thread(
            _post_signed, f"{account.base_url}/twilio/voice", params, account.auth_token
        )
        if status != 200:
            raise RuntimeError(f"voice webhook answered {status}")
        answered = time.monotonic()
        url, custom = _stream_from_twiml(twiml)
        await _stream(
            account, report, url, custom, audio, answered, dtmf, barge_in, trailing_ms, echo
        )
    except Exception as exc:  # one failed call is a result, not a crash of the run
        report.error = f"{type(exc).__name__}: {exc}"
    if echo and report.error is None:
        report.frames_lost = max(0, report.frames_sent - report.frames_received)
    return report


def _frames(audio: Pcm, trailing_ms: int) -> list[bytes]:
    silence = np.zeros(TELEPHONE_RATE * trailing_ms // 1000, dtype=np.int16)
    pcm = np.concatenate([audio, silence])
    pcm = np.concatenate([pcm, np.zeros(-len(pcm) % FRAME_SAMPLES, dtype=np.int16)])
    encoded = ulaw_encode(pcm)
    return [encoded[i : i + FRAME_SAMPLES] for i in range(0, len(encoded), FRAME_SAMPLES)]


def _speech_end(audio: Pcm) -> int:
    """Index of the caller's last speech frame (Twilio sends a frame once it is captured,
    so the caller stopped speaking when that frame was sent)."""
    usable = len(audio) - len(audio) % FRAME_SAMPLES
    frames = audio[:usable].reshape(-1, FRAME_SAMPLES).astype(np.float64)
    loud = np.nonzero(np.sqrt((frames**2).mean(axis=1)) > SPEECH_RMS)[0]
    return int(loud[-1]) if len(loud) else 0


async def _stream(
    account: Account,
    report: CallReport,
    url: str,
    custom: dict[str, str],
    audio: Pcm,
    answered: float,
    dtmf: str,
    barge_in: bool,
    trailing_ms: int,
    echo: bool,
) -> None:
    signature = RequestValidator(account.auth_token).compute_signature(url, {})
    stream_sid = "MZ" + uuid.uuid4().hex
    twilio = _Twilio(stream_sid)
    caller = np.concatenate([audio, audio]) if barge_in else audio
    frames = _frames(caller, trailing_ms)
    speech_end_frame = _speech_end(audio)
    barge_frame = len(audio) // FRAME_SAMPLES + 10 if barge_in else None
    sent_at: list[float] = []
    timing: dict[str, float] = {}

    async with connect(
        url,
        additional_headers={"X-Twilio-Signature": signature},
        compression=None,
        max_size=2**16,
        ping_interval=None,
    ) as ws:

        async def send_marks() -> None:
            while True:
                if not twilio.pending_marks:
                    await asyncio.sleep(FRAME_MS / 1000)
                    continue
                due, name = twilio.pending_marks[0]
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                    continue
                twilio.pending_marks.popleft()
                await ws.send(twilio.mark(name))
                report.marks_echoed += 1

        async def receive() -> None:
            async for raw in ws:
                now = time.monotonic()
                message = json.loads(raw)
                event = message.get("event")
                if event == "media":
                    payload = base64.b64decode(message["media"]["payload"])
                    index = report.frames_received
                    report.frames_received += len(payload) // FRAME_SAMPLES
                    if report.answer_to_first_audio_ms is None:
                        report.answer_to_first_audio_ms = (now - answered) * 1000
                    if index < len(sent_at):
                        report.echo_lag_ms.append((now - sent_at[index]) * 1000)
                    loud = np.sqrt(np.mean(ulaw_decode(payload).astype(np.float64) ** 2))
                    end = timing.get("speech_end")
                    if echo:
                        # The agent's answer to the caller's last words is their echo.
                        if index == speech_end_frame and index < len(sent_at):
                            timing["v2v"] = (now - sent_at[index]) * 1000
                    elif end is not None and "v2v" not in timing and loud > SPEECH_RMS:
                        timing["v2v"] = (now - end) * 1000
                    twilio.play_end = max(twilio.play_end, now) + len(payload) / TELEPHONE_RATE
                elif event == "mark":
                    report.marks_received += 1
                    twilio.pending_marks.append((twilio.play_end, message["mark"]["name"]))
                elif event == "clear":
                    report.clears += 1
                    if "barge" in timing and report.barge_in_cut_ms is None:
                        report.barge_in_cut_ms = (now - timing["barge"]) * 1000
                    twilio.play_end = now
                    # Twilio returns every pending mark at once when its buffer is cleared.
                    twilio.pending_marks = deque((now, n) for _, n in twilio.pending_marks)

        marks_task = asyncio.create_task(send_marks())
        receive_task = asyncio.create_task(receive())
        try:
            await ws.send(
                json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"})
            )
            await ws.send(
                json.dumps(
                    {
                        "event": "start",
                        "sequenceNumber": twilio.next_sequence(),
                        "streamSid": stream_sid,
                        "start": {
                            "accountSid": account.account_sid,
                            "streamSid": stream_sid,
                            "callSid": report.call_sid,
                            "tracks": ["inbound"],
                            "customParameters": custom,
                            "mediaFormat": {
                                "encoding": "audio/x-mulaw",
                                "sampleRate": TELEPHONE_RATE,
                                "channels": 1,
                            },
                        },
                    }
                )
            )
            t0 = time.monotonic()
            for k, frame in enumerate(frames):
                target = t0 + k * FRAME_MS / 1000
                delay = target - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                now = time.monotonic()
                report.max_send_slip_ms = max(report.max_send_slip_ms, (now - target) * 1000)
                sent_at.append(now)
                if k == speech_end_frame:
                    timing["speech_end"] = now
                if k == barge_frame:
                    timing["barge"] = now
                await ws.send(
                    json.dumps(
                        {
                            "event": "media",
                            "sequenceNumber": twilio.next_sequence(),
                            "streamSid": stream_sid,
                            "media": {
                                "track": "inbound",
                                "chunk": str(k + 1),
                                "timestamp": str(k * FRAME_MS),
                                "payload": base64.b64encode(frame).decode(),
                            },
                        }
                    )
                )
                report.frames_sent += 1
                if dtmf and k == len(frames) // 2:
                    for digit in dtmf:
                        await ws.send(
                            json.dumps(
                                {
                                    "event": "dtmf",
                                    "sequenceNumber": twilio.next_sequence(),
                                    "streamSid": stream_sid,
                                    "dtmf": {"track": "inbound_track", "digit": digit},
                                }
                            )
                        )
            # Let the last marks come due before the caller hangs up.
            if twilio.pending_marks:
                last_due = twilio.pending_marks[-1][0]
                await asyncio.sleep(min(1.0, max(0.0, last_due - time.monotonic()) + 0.05))
            await ws.send(
                json.dumps(
                    {
                        "event": "stop",
                        "sequenceNumber": twilio.next_sequence(),
                        "streamSid": stream_sid,
                        "stop": {"accountSid": account.account_sid, "callSid": report.call_sid},
                    }
                )
            )
            # Twilio closes the socket after stop; give the server a moment to close first.
            await asyncio.wait({receive_task}, timeout=2)
            await ws.close()
        finally:
            for task in (marks_task, receive_task):
                task.cancel()
            await asyncio.gather(marks_task, receive_task, return_exceptions=True)
        report.close_code = ws.close_code
    report.voice_to_voice_ms = timing.get("v2v")


async def run_calls(
    account: Account,
    audios: list[Pcm],
    *,
    calls: int,
    dtmf: str = "",
    barge_in: bool = False,
    ramp_s: float = 1.0,
) -> list[CallReport]:
    """Place ``calls`` concurrent calls, their starts spread over ``ramp_s`` seconds."""

    async def one(index: int) -> CallReport:
        await asyncio.sleep(ramp_s * index / max(1, calls))
        return await run_call(account, audios[index % len(audios)], dtmf=dtmf, barge_in=barge_in)

    return list(await asyncio.gather(*(one(i) for i in range(calls))))


def _percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "p99": None}
    p50, p95, p99 = np.percentile(np.array(values), [50, 95, 99])
    return {"p50": round(float(p50), 2), "p95": round(float(p95), 2), "p99": round(float(p99), 2)}


def summarise(reports: list[CallReport]) -> dict[str, Any]:
    ok = [r for r in reports if r.error is None]
    lag = [v for r in ok for v in r.echo_lag_ms]
    return {
        "calls": len(reports),
        "failed": len(reports) - len(ok),
        "errors": sorted({r.error for r in reports if r.error})[:5],
        "frames_sent": sum(r.frames_sent for r in ok),
        "frames_received": sum(r.frames_received for r in ok),
        "frames_lost": sum(r.frames_lost or 0 for r in ok),
        "marks_received": sum(r.marks_received for r in ok),
        "marks_echoed": sum(r.marks_echoed for r in ok),
        "max_send_slip_ms": round(max((r.max_send_slip_ms for r in ok), default=0.0), 2),
        "answer_to_first_audio_ms": _percentiles(
            [r.answer_to_first_audio_ms for r in ok if r.answer_to_first_audio_ms is not None]
        ),
        "voice_to_voice_ms": _percentiles(
            [r.voice_to_voice_ms for r in ok if r.voice_to_voice_ms is not None]
        ),
        "barge_in_cut_ms": _percentiles(
            [r.barge_in_cut_ms for r in ok if r.barge_in_cut_ms is not None]
        ),
        "echo_lag_ms": _percentiles(lag),
    }


def report_dict(report: CallReport) -> dict[str, Any]:
    data = asdict(report)
    data["echo_lag_ms"] = _percentiles(report.echo_lag_ms)
    return data

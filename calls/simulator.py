"""A faithful stand-in for Twilio: places calls against our webhooks and media stream.

It signs the voice webhook and the WebSocket handshake with the account's auth token as
Twilio does, reads the TwiML, streams caller audio as 20 ms μ-law frames at real-time pace
with Twilio's sequenceNumber/chunk/timestamp, keeps a playback buffer for agent audio,
echoes each mark only when the audio before it would have finished playing (at once on
``clear``, as Twilio does), and sends ``stop``. A hang-up through Twilio's REST API
(``CallControl``, fed by a REST stand-in) ends the call as Twilio does: ``stop``, then the
socket closes; TwiML that answers a ``<Redirect>`` with ``<Hangup>`` ends it too. When the
call is over, Twilio's status callback (``completed``, signed) goes to ``/twilio/status``,
as the number's StatusCallback names it. The report says who ended the call. It is also
the benchmarks' load generator.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import email.utils
import json
import math
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import wave
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import numpy as np
import numpy.typing as npt
from twilio.request_validator import RequestValidator
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

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
# Silence the caller hears between two stretches of agent audio, with the caller silent
# too, counts as dead air from this long (Twilio's jitter buffer covers shorter ones, and a
# sender pacing at real time without a lead shows a few ms of jitter on every frame).
DEAD_AIR_MIN_MS = 60.0
# Keypad tones (ITU-T Q.23): the row and column frequencies of each key.
_DTMF_ROWS = {"123A": 697, "456B": 770, "789C": 852, "*0#D": 941}
_DTMF_COLS = {"147*": 1209, "2580": 1336, "369#": 1477, "ABCD": 1633}
DTMF_TONE_MS = 100
# A scripted caller (``run_conversation``) speaks its next line once the agent's reply has
# begun and Twilio's buffer has then been empty this long: longer than the pauses between
# the sentences of one reply (each sentence is synthesised on its own), so the caller does
# not speak into a reply that is still coming.
REPLY_QUIET_S = 1.5
# ... or once this long has passed since its last words with no finished reply.
REPLY_TIMEOUT_S = 30.0
_SILENT_FRAME = ulaw_encode(np.zeros(FRAME_SAMPLES, dtype=np.int16))
Keys = str | list[tuple[int, str]]  # all at mid-call, or (ms into the audio, key) pairs


def _dtmf_pair(key: str) -> tuple[int, int]:
    row = next((f for keys, f in _DTMF_ROWS.items() if key in keys), None)
    col = next((f for keys, f in _DTMF_COLS.items() if key in keys), None)
    if row is None or col is None:
        raise ValueError(f"not a DTMF key: {key!r}")
    return row, col


def with_keypad(audio: Pcm, keys: list[tuple[int, str]]) -> Pcm:
    """Caller audio with each key's tone at its time: the phone network carries keypad
    tones in-band, and Twilio passes them in the media as well as in ``dtmf`` events."""
    out = audio.astype(np.int32)
    t = np.arange(TELEPHONE_RATE * DTMF_TONE_MS // 1000) / TELEPHONE_RATE
    for at_ms, key in keys:
        low, high = _dtmf_pair(key)
        tone = 8000 * (np.sin(2 * np.pi * low * t) + np.sin(2 * np.pi * high * t))
        start = at_ms * TELEPHONE_RATE // 1000
        if start + len(tone) > len(out):
            raise ValueError(f"key {key!r} at {at_ms} ms is past the end of the audio")
        out[start : start + len(tone)] += tone.astype(np.int32)
    return np.clip(out, -32768, 32767).astype(np.int16)


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


def speak(text: str, *, voice: str = "en-us") -> Pcm:
    """``text`` said by espeak-ng (a synthetic caller), as 8 kHz phone-line PCM."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "caller.wav"
        subprocess.run(  # noqa: S603 - a fixed program; the text is one argument
            ["espeak-ng", "-v", voice, "-s", "160", "-w", str(path), text],  # noqa: S607
            check=True,
            capture_output=True,
            timeout=30,
        )
        return load_wav(path)


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
    # The number's StatusCallback (``{base_url}/twilio/status``, as ADR 4 tells operators
    # to configure it): Twilio posts ``completed`` there when the call ends.
    status_callback: bool = True


@dataclass
class CallReport:
    call_sid: str
    frames_sent: int = 0
    frames_received: int = 0
    frames_lost: int | None = None  # echo mode: sent frames whose audio never came back
    marks_received: int = 0
    marks_echoed: int = 0
    clears: int = 0
    frames_after_clear: int = 0  # agent frames that arrived after the first clear
    marks_heard: list[str] = field(default_factory=list)  # echoed before any clear
    streams: int = 0  # more than 1: the call resumed after a dropped stream
    answer_to_first_audio_ms: float | None = None
    voice_to_voice_ms: float | None = None
    barge_in_cut_ms: float | None = None
    # Agent-audio calls (not echo): each silence heard between two stretches of agent
    # audio while the caller said nothing, from DEAD_AIR_MIN_MS (Twilio's buffer ran dry
    # and the agent went on talking: a pause inside its speech, or before its next words).
    dead_air_ms: list[float] = field(default_factory=list)
    max_send_slip_ms: float = 0.0
    echo_lag_ms: list[float] = field(default_factory=list)
    # The same, for caller frames sent after the stream's first agent audio arrived:
    # frames sent before it waited for the stream's set-up (handshake, authorisation).
    echo_lag_steady_ms: list[float] = field(default_factory=list)
    echo_steady_sent_at: list[float] = field(default_factory=list)  # time.monotonic() of each
    close_code: int | None = None
    # caller: the caller hung up (stop after its audio); rest_api: a REST update with
    # Status=completed (Twilio's stop and close); twiml: the TwiML said <Hangup>.
    ended_by: str | None = None
    said: list[str] = field(default_factory=list)  # what TwiML <Say> told the caller
    # Marks the stand-in held unechoed (their audio still playing) when a REST hang-up came.
    marks_pending_at_hang_up: int | None = None
    # The HTTP status that answered the ``completed`` status callback (None: not sent,
    # 0: the server could not be reached).
    status_callback: int | None = None
    error: str | None = None
    # Scripted conversations (``run_conversation``): one entry per caller turn.
    turns: list[TurnReport] = field(default_factory=list)


@dataclass(frozen=True)
class CallerTurn:
    """One line of a scripted caller: speech (8 kHz, may be empty), then keys pressed."""

    audio: Pcm
    dtmf: str = ""


@dataclass
class TurnReport:
    """Where a scripted caller's turn began (by the media stream's clock, as the server's
    events count it: they find the agent's reply) and how long the agent took to answer."""

    stream: int  # which media stream of the call (from 1; more after a resumption)
    stream_ms: int  # its first frame's ``media.timestamp``
    waited_ms: float  # silence the caller kept before it, waiting for the agent
    # The agent's reply had not ended (or not begun) when the caller gave up waiting.
    wait_timed_out: bool = False
    # From the caller's last sound (speech or key tone) to the agent's first speech after
    # it, in audio that began after a silence (None: no reply, or audio already playing).
    voice_to_voice_ms: float | None = None


class CallControl:
    """Twilio's REST side of simulated calls: ``update`` is what Twilio does on
    ``POST /2010-04-01/Accounts/{AccountSid}/Calls/{Sid}.json``. ``Status=completed`` ends
    that call: its stream gets ``stop`` and the socket closes. Other updates (``Twiml``,
    ``Url``) are not simulated. Thread-safe: a REST stand-in calls it from its threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._live: dict[str, tuple[asyncio.AbstractEventLoop, asyncio.Event]] = {}
        self._completed: set[str] = set()

    def update(self, call_sid: str, params: Mapping[str, str]) -> None:
        if params.get("Status") != "completed":
            return
        with self._lock:
            self._completed.add(call_sid)
            live = self._live.get(call_sid)
        if live is not None:
            loop, event = live
            loop.call_soon_threadsafe(event.set)

    def watch(self, call_sid: str) -> asyncio.Event:
        """An event (of the running loop) set when the call is completed through REST."""
        event = asyncio.Event()
        with self._lock:
            self._live[call_sid] = (asyncio.get_running_loop(), event)
            if call_sid in self._completed:
                event.set()
        return event

    def forget(self, call_sid: str) -> None:
        with self._lock:
            self._live.pop(call_sid, None)


class _Twilio:
    """The per-call state of the stand-in: sequence numbers and the playback buffer."""

    def __init__(self, stream_sid: str) -> None:
        self.stream_sid = stream_sid
        self.sequence = 0
        self.play_end = 0.0
        self.stretch_start = 0.0  # when the agent audio now playing began after silence
        self.pending_marks: deque[tuple[float, str]] = deque()

    def next_sequence(self) -> str:
        self.sequence += 1
        return str(self.sequence)

    def media(self, payload: bytes, index: int) -> str:
        """The stream's ``index``-th frame of caller audio (from 0), as Twilio sends it."""
        return json.dumps(
            {
                "event": "media",
                "sequenceNumber": self.next_sequence(),
                "streamSid": self.stream_sid,
                "media": {
                    "track": "inbound",
                    "chunk": str(index + 1),
                    "timestamp": str(index * FRAME_MS),
                    "payload": base64.b64encode(payload).decode(),
                },
            }
        )

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


async def _status_completed(
    account: Account, report: CallReport, params: dict[str, str], duration_s: float
) -> None:
    """Twilio's status callback when the call ends (the default event, ``completed``)."""
    callback = {
        **params,
        "CallStatus": "completed",
        "CallDuration": str(int(duration_s)),
        "Duration": str(max(1, math.ceil(duration_s / 60))),  # billed minutes
        "CallbackSource": "call-progress-events",
        "SequenceNumber": "0",
        "Timestamp": email.utils.format_datetime(datetime.datetime.now(datetime.UTC)),
    }
    try:
        report.status_callback, _ = await asyncio.to_thread(
            _post_signed, f"{account.base_url}/twilio/status", callback, account.auth_token
        )
    except urllib.error.HTTPError as exc:
        report.status_callback = exc.code
    except OSError:
        report.status_callback = 0  # not delivered (Twilio would retry; the call is over)


def _said(twiml: str) -> list[str]:
    root = ElementTree.fromstring(twiml)  # noqa: S314 - TwiML from the server under test
    return [say.text or "" for say in root.findall("Say")]


def _hangs_up(twiml: str) -> bool:
    """TwiML that ends the call (``<Say>`` first, maybe) instead of streaming it."""
    root = ElementTree.fromstring(twiml)  # noqa: S314 - TwiML from the server under test
    return root.find("Hangup") is not None and root.find("Connect") is None


def _stream_from_twiml(twiml: str) -> tuple[str, dict[str, str], str | None]:
    """The <Connect><Stream> URL, its parameters, and the <Redirect> URL that follows."""
    root = ElementTree.fromstring(twiml)  # noqa: S314 - TwiML from the server under test
    stream = root.find("Connect/Stream")
    if stream is None:
        raise RuntimeError(f"TwiML has no <Connect><Stream>: {twiml[:200]}")
    params = {p.get("name", ""): p.get("value", "") for p in stream.findall("Parameter")}
    redirect = root.find("Redirect")
    return stream.get("url", ""), params, None if redirect is None else (redirect.text or "")


@dataclass
class _CallState:
    """What outlives one stream of a call: the caller's frames and when each was sent."""

    frames: list[bytes]
    speech_end_frame: int
    barge_frame: int | None
    loud_frames: frozenset[int] = frozenset()  # the caller's speech
    # Scripted conversations: frame index → turn, where the caller waits for the agent to
    # finish speaking before sending that frame; and each turn's last loud frame.
    turn_starts: dict[int, int] = field(default_factory=dict)
    turn_ends: dict[int, int] = field(default_factory=dict)
    ended_turn: int | None = None  # the turn whose last sound was sent last
    waiting_since: float | None = None  # when the caller began waiting for the agent
    reply_quiet_s: float = REPLY_QUIET_S
    reply_timeout_s: float = REPLY_TIMEOUT_S
    next_frame: int = 0
    sent_at: list[float] = field(default_factory=list)
    timing: dict[str, float] = field(default_factory=dict)


async def run_call(
    account: Account,
    audio: Pcm,
    *,
    dtmf: Keys = "",
    barge_in: bool = False,
    echo: bool = True,
    trailing_ms: int = 600,
    follow_redirect: bool = True,
    call_sid: str | None = None,
    caller: str = "+15005550006",
    control: CallControl | None = None,
    listen_first_s: float = 0.0,
    wait_before: Sequence[int] = (),
    reply_quiet_s: float = REPLY_QUIET_S,
    reply_timeout_s: float = REPLY_TIMEOUT_S,
) -> CallReport:
    """One call. With ``barge_in`` the caller starts speaking at ``audio``'s first loud
    frame (send silence before it to let the agent talk). When the stream drops without
    ``stop``, the stand-in does what Twilio does: it follows the TwiML's ``<Redirect>`` and
    continues the same call on the stream the new TwiML names. ``call_sid`` lets the caller
    know the call's SID in advance (test calls from the console). ``dtmf`` as (ms, key)
    pairs sends each key's ``dtmf`` event when its tone (``with_keypad``) has ended, as
    Twilio does; ``caller`` is the From number. ``control`` lets Twilio's REST API (a
    stand-in feeding ``CallControl.update``) hang the call up. With ``listen_first_s``
    the caller, like a person, waits to hear the agent before ``audio`` begins: silence
    goes up the stream until the agent's first audio arrives (or that many seconds have
    passed), so a script timed from the greeting's start (keys, words) keeps its timing
    when the greeting starts late. ``wait_before`` names frames of ``audio`` (20 ms each)
    before which the caller waits, sending silence, until the agent has finished speaking:
    its audio began after the caller's last sound and Twilio's buffer has then been empty
    for ``reply_quiet_s`` (or ``reply_timeout_s`` passed); each such turn gets a
    ``TurnReport`` (``run_conversation`` builds them from lines)."""
    if listen_first_s < 0:
        raise ValueError("listen_first_s must not be negative")
    if listen_first_s and echo:
        raise ValueError("listen_first_s needs an agent: an echo answers nothing to silence")
    call_sid = call_sid or "CA" + uuid.uuid4().hex
    report = CallReport(call_sid=call_sid)
    params = {
        "AccountSid": account.account_sid,
        "ApiVersion": "2010-04-01",
        "CallSid": call_sid,
        "CallStatus": "ringing",
        "Direction": "inbound",
        "From": caller,
        "To": account.number,
    }
    loud = _loud_frames(audio)
    state = _CallState(
        frames=_frames(audio, trailing_ms),
        # Twilio sends a frame once it is captured, so the caller stopped speaking when
        # the last loud frame was sent.
        speech_end_frame=int(loud[-1]) if len(loud) else 0,
        barge_frame=(int(loud[0]) if len(loud) else 0) if barge_in else None,
        loud_frames=frozenset(int(k) for k in loud),
    )
    _plan_turns(state, loud, wait_before, echo=echo)
    state.reply_quiet_s, state.reply_timeout_s = reply_quiet_s, reply_timeout_s
    webhook = f"{account.base_url}/twilio/voice"
    hung_up = control.watch(call_sid) if control is not None else asyncio.Event()
    first_answer: float | None = None
    try:
        while True:
            status, twiml = await asyncio.to_thread(
                _post_signed, webhook, params, account.auth_token
            )
            if status != 200:
                raise RuntimeError(f"voice webhook answered {status}")
            answered = time.monotonic()
            first_answer = first_answer or answered
            report.said.extend(_said(twiml))
            if _hangs_up(twiml):
                report.ended_by = "twiml"
                break
            url, custom, redirect = _stream_from_twiml(twiml)
            report.streams += 1
            dropped = await _stream(
                account, report, state, url, custom, answered, dtmf, echo, hung_up, listen_first_s
            )
            if hung_up.is_set() or not (dropped and follow_redirect and redirect):
                break  # a call completed through REST is over, whatever its stream did
            webhook = redirect
            params = {**params, "CallStatus": "in-progress"}
    except Exception as exc:  # one failed call is a result, not a crash of the run
        report.error = f"{type(exc).__name__}: {exc}"
    finally:
        if control is not None:
            control.forget(call_sid)
    if first_answer is not None and account.status_callback:
        await _status_completed(account, report, params, time.monotonic() - first_answer)
    if echo and report.error is None:
        report.frames_lost = max(0, report.frames_sent - report.frames_received)
    return report


def _plan_turns(
    state: _CallState, loud: npt.NDArray[np.intp], wait_before: Sequence[int], *, echo: bool
) -> None:
    starts = sorted(set(wait_before))
    if not starts:
        return
    if echo:
        raise ValueError("wait_before needs an agent: an echo never finishes speaking")
    if starts[0] < 0 or starts[-1] >= len(state.frames):
        raise ValueError("wait_before: frames of the audio only")
    state.turn_starts = {frame: turn for turn, frame in enumerate(starts)}
    for turn, (start, end) in enumerate(zip(starts, [*starts[1:], len(state.frames)], strict=True)):
        sounds = loud[(loud >= start) & (loud < end)]
        if len(sounds):
            state.turn_ends[int(sounds[-1])] = turn


def _agent_done(
    state: _CallState, twilio: _Twilio, report: CallReport, now: float, stream_ms: int
) -> bool:
    """Whether a scripted caller may begin its next turn (``run_call``'s ``wait_before``);
    records the turn's start when it may."""
    if state.waiting_since is None:
        state.waiting_since = now
    timing = state.timing
    replied = timing.get("agent_spoke", 0.0) > timing.get("turn_end", 0.0)
    finished = replied and now - twilio.play_end >= state.reply_quiet_s
    timed_out = now - state.waiting_since >= state.reply_timeout_s
    if not (finished or timed_out):
        return False
    report.turns.append(
        TurnReport(
            stream=report.streams,
            stream_ms=stream_ms,
            waited_ms=round((now - state.waiting_since) * 1000, 1),
            wait_timed_out=not finished,
        )
    )
    state.waiting_since = None
    return True


def _frames(audio: Pcm, trailing_ms: int) -> list[bytes]:
    silence = np.zeros(TELEPHONE_RATE * trailing_ms // 1000, dtype=np.int16)
    pcm = np.concatenate([audio, silence])
    pcm = np.concatenate([pcm, np.zeros(-len(pcm) % FRAME_SAMPLES, dtype=np.int16)])
    encoded = ulaw_encode(pcm)
    return [encoded[i : i + FRAME_SAMPLES] for i in range(0, len(encoded), FRAME_SAMPLES)]


def _loud_frames(audio: Pcm) -> npt.NDArray[np.intp]:
    usable = len(audio) - len(audio) % FRAME_SAMPLES
    frames = audio[:usable].reshape(-1, FRAME_SAMPLES).astype(np.float64)
    return np.nonzero(np.sqrt((frames**2).mean(axis=1)) > SPEECH_RMS)[0]


def _dead_air(report: CallReport, twilio: _Twilio, now: float, caller_spoke: float | None) -> None:
    """Agent audio arrived ``now``, after Twilio's buffer ran dry at ``play_end``. The
    silence between is dead air unless the caller spoke during it or during the agent
    audio before it (then the agent is answering them: that silence is its latency)."""
    silence_ms = (now - twilio.play_end) * 1000
    if silence_ms >= DEAD_AIR_MIN_MS and (
        caller_spoke is None or caller_spoke < twilio.stretch_start
    ):
        report.dead_air_ms.append(round(silence_ms, 1))


def _agent_spoke(state: _CallState, report: CallReport, now: float) -> None:
    """Agent speech reached the caller ``now``: the end of a scripted caller's wait, and
    the voice-to-voice time of its turn if this is the first speech after its last sound
    in audio that began after a silence the caller heard after it. Audio already playing
    when the caller stopped (a hold message) answers nothing."""
    state.timing["agent_spoke"] = now
    turn = state.ended_turn
    if turn is None or turn >= len(report.turns):
        return
    if state.timing.get("silence_ended", 0.0) < state.timing["turn_end"]:
        return
    if report.turns[turn].voice_to_voice_ms is None:
        report.turns[turn].voice_to_voice_ms = round((now - state.timing["turn_end"]) * 1000, 1)


def _json(obj: dict[str, Any]) -> str:
    return json.dumps(obj)


async def _stream(
    account: Account,
    report: CallReport,
    state: _CallState,
    url: str,
    custom: dict[str, str],
    answered: float,
    dtmf: Keys,
    echo: bool,
    hung_up: asyncio.Event,
    listen_first_s: float = 0.0,
) -> bool:
    """One media stream from ``state.next_frame`` on; True when it dropped before stop.
    Before the call's first frame, silence while the caller waits to hear the agent
    (``listen_first_s``, ``run_call``)."""
    signature = RequestValidator(account.auth_token).compute_signature(url, {})
    stream_sid = "MZ" + uuid.uuid4().hex
    twilio = _Twilio(stream_sid)
    sent_at, timing = state.sent_at, state.timing
    dropped = False
    steady_from: int | None = None  # first caller frame sent after this stream's first audio
    if isinstance(dtmf, str):
        keys_after = {len(state.frames) // 2: list(dtmf)} if dtmf else {}
    else:
        keys_after = {}
        for at_ms, key in dtmf:
            _dtmf_pair(key)
            frame = (at_ms + DTMF_TONE_MS) // FRAME_MS
            keys_after.setdefault(frame, []).append(key)

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
                if "clear" not in timing:
                    report.marks_heard.append(name)

        async def receive() -> None:
            nonlocal steady_from
            async for raw in ws:
                now = time.monotonic()
                message = json.loads(raw)
                event = message.get("event")
                if event == "media":
                    payload = base64.b64decode(message["media"]["payload"])
                    index = report.frames_received
                    report.frames_received += len(payload) // FRAME_SAMPLES
                    if "clear" in timing:
                        report.frames_after_clear += len(payload) // FRAME_SAMPLES
                    if report.answer_to_first_audio_ms is None:
                        report.answer_to_first_audio_ms = (now - answered) * 1000
                    if steady_from is None:
                        steady_from = len(sent_at)
                    if index < len(sent_at):
                        lag_ms = (now - sent_at[index]) * 1000
                        report.echo_lag_ms.append(lag_ms)
                        if index >= steady_from:
                            report.echo_lag_steady_ms.append(lag_ms)
                            report.echo_steady_sent_at.append(sent_at[index])
                    loud = np.sqrt(np.mean(ulaw_decode(payload).astype(np.float64) ** 2))
                    end = timing.get("speech_end")
                    if echo:
                        # The agent's answer to the caller's last words is their echo.
                        if index == state.speech_end_frame and index < len(sent_at):
                            timing["v2v"] = (now - sent_at[index]) * 1000
                    elif end is not None and "v2v" not in timing and loud > SPEECH_RMS:
                        timing["v2v"] = (now - end) * 1000
                    if not echo and now > twilio.play_end:  # Twilio had run dry
                        if twilio.play_end:
                            _dead_air(report, twilio, now, timing.get("caller_spoke"))
                        twilio.stretch_start = now
                    if not echo and now - twilio.play_end >= DEAD_AIR_MIN_MS / 1000:
                        timing["silence_ended"] = now  # the caller heard silence before this
                    if not echo and loud > SPEECH_RMS:
                        _agent_spoke(state, report, now)
                    twilio.play_end = max(twilio.play_end, now) + len(payload) / TELEPHONE_RATE
                elif event == "mark":
                    report.marks_received += 1
                    twilio.pending_marks.append((twilio.play_end, message["mark"]["name"]))
                elif event == "clear":
                    report.clears += 1
                    timing.setdefault("clear", now)
                    if "barge" in timing and report.barge_in_cut_ms is None:
                        report.barge_in_cut_ms = (now - timing["barge"]) * 1000
                    twilio.play_end = now
                    # Twilio returns every pending mark at once when its buffer is cleared.
                    twilio.pending_marks = deque((now, n) for _, n in twilio.pending_marks)

        marks_task = asyncio.create_task(send_marks())
        receive_task = asyncio.create_task(receive())
        try:
            await ws.send(_json({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
            await ws.send(
                _json(
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
            # Twilio's chunk and timestamp count this stream's frames, waiting included.
            sent = 0
            listen_until = t0 + listen_first_s if state.next_frame == 0 else t0
            k = state.next_frame
            while k < len(state.frames):
                target = t0 + sent * FRAME_MS / 1000
                delay = target - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                if receive_task.done():
                    dropped = True  # the server side went away mid-call
                    break
                if hung_up.is_set():
                    break
                now = time.monotonic()
                report.max_send_slip_ms = max(report.max_send_slip_ms, (now - target) * 1000)
                waits = k in state.turn_starts and len(report.turns) <= state.turn_starts[k]
                if (report.answer_to_first_audio_ms is None and now < listen_until) or (
                    waits and not _agent_done(state, twilio, report, now, sent * FRAME_MS)
                ):
                    await ws.send(twilio.media(_SILENT_FRAME, sent))
                    sent += 1
                    report.frames_sent += 1
                    continue
                sent_at.append(now)
                if k == state.speech_end_frame:
                    timing["speech_end"] = now
                if k in state.turn_ends:
                    timing["turn_end"] = now
                    state.ended_turn = state.turn_ends[k]
                if k in state.loud_frames:
                    timing["caller_spoke"] = now
                if k == state.barge_frame:
                    timing["barge"] = now
                await ws.send(twilio.media(state.frames[k], sent))
                sent += 1
                state.next_frame = k + 1
                report.frames_sent += 1
                if k in keys_after:
                    for digit in keys_after[k]:
                        await ws.send(
                            _json(
                                {
                                    "event": "dtmf",
                                    "sequenceNumber": twilio.next_sequence(),
                                    "streamSid": stream_sid,
                                    "dtmf": {"track": "inbound_track", "digit": digit},
                                }
                            )
                        )
                k += 1
            if hung_up.is_set():
                await _completed_by_rest(ws, twilio, report, account, receive_task)
            elif not dropped:
                await _hang_up(ws, twilio, report, account, echo, receive_task)
        except ConnectionClosed:
            dropped = True
        finally:
            for task in (marks_task, receive_task):
                task.cancel()
            await asyncio.gather(marks_task, receive_task, return_exceptions=True)
        report.close_code = ws.close_code
    report.voice_to_voice_ms = timing.get("v2v")
    return dropped


async def _completed_by_rest(
    ws: Any,
    twilio: _Twilio,
    report: CallReport,
    account: Account,
    receive_task: asyncio.Task[None],
) -> None:
    """Twilio after a REST update with Status=completed: ``stop``, then it closes. The
    server closes once it has recorded the end (after the hang-up request it is answering
    returns), so the stand-in lets it close first: the run ends with the ledger complete."""
    report.ended_by = "rest_api"
    report.marks_pending_at_hang_up = len(twilio.pending_marks)
    await ws.send(_stop(twilio, report, account))
    await asyncio.wait({receive_task}, timeout=10)
    await ws.close()


def _stop(twilio: _Twilio, report: CallReport, account: Account) -> str:
    return _json(
        {
            "event": "stop",
            "sequenceNumber": twilio.next_sequence(),
            "streamSid": twilio.stream_sid,
            "stop": {"accountSid": account.account_sid, "callSid": report.call_sid},
        }
    )


async def _hang_up(
    ws: Any,
    twilio: _Twilio,
    report: CallReport,
    account: Account,
    echo: bool,
    receive_task: asyncio.Task[None],
) -> None:
    if echo:
        # Let the echo of the last frames arrive (marks come every few frames, so an empty
        # mark queue does not mean nothing is on its way).
        deadline = time.monotonic() + 1.0
        while report.frames_received < report.frames_sent and time.monotonic() < deadline:  # noqa: ASYNC110 - a counter another task bumps, with a deadline
            await asyncio.sleep(FRAME_MS / 1000)
    # Let the last marks come due before the caller hangs up.
    if twilio.pending_marks:
        last_due = twilio.pending_marks[-1][0]
        await asyncio.sleep(min(1.0, max(0.0, last_due - time.monotonic()) + 0.05))
    report.ended_by = "caller"
    await ws.send(_stop(twilio, report, account))
    # Twilio closes the socket after stop; give the server a moment to close first.
    await asyncio.wait({receive_task}, timeout=2)
    await ws.close()


def conversation_audio(
    turns: Sequence[CallerTurn],
) -> tuple[Pcm, list[tuple[int, str]], list[int]]:
    """A scripted caller's lines back to back: the audio (each line from a frame boundary,
    its keys' tones after its speech, a silent frame at the end), the keys as (ms, key),
    and the frame where each line begins, then the final frame (the caller waits there
    for the last reply before hanging up)."""
    pieces: list[Pcm] = []
    keys: list[tuple[int, str]] = []
    starts: list[int] = []
    samples = 0
    key_gap = np.zeros(TELEPHONE_RATE * 2 * DTMF_TONE_MS // 1000, dtype=np.int16)
    for turn in turns:
        starts.append(samples // FRAME_SAMPLES)
        piece = [turn.audio.astype(np.int16)]
        at = samples + len(turn.audio)
        for key in turn.dtmf:
            _dtmf_pair(key)
            keys.append((at * 1000 // TELEPHONE_RATE, key))
            piece.append(key_gap)  # the tone over its first half, then a pause
            at += len(key_gap)
        audio = np.concatenate(piece)
        audio = np.concatenate([audio, np.zeros(-len(audio) % FRAME_SAMPLES, dtype=np.int16)])
        pieces.append(audio)
        samples += len(audio)
    starts.append(samples // FRAME_SAMPLES)
    pieces.append(np.zeros(FRAME_SAMPLES, dtype=np.int16))
    return with_keypad(np.concatenate(pieces), keys), keys, starts


async def run_conversation(
    account: Account,
    turns: Sequence[CallerTurn],
    *,
    caller: str = "+15005550006",
    call_sid: str | None = None,
    control: CallControl | None = None,
    reply_quiet_s: float = REPLY_QUIET_S,
    reply_timeout_s: float = REPLY_TIMEOUT_S,
) -> CallReport:
    """One call of a scripted caller who, like a person, says each line (and presses its
    keys) once the agent has finished speaking, and hangs up when the agent has answered
    the last one. ``report.turns`` has a ``TurnReport`` per line."""
    if not turns:
        raise ValueError("a conversation needs at least one caller turn")
    if any(not len(t.audio) and not t.dtmf for t in turns):
        raise ValueError("every caller turn says something or presses a key")
    audio, keys, starts = conversation_audio(turns)
    report = await run_call(
        account,
        audio,
        dtmf=keys,
        echo=False,
        trailing_ms=0,
        call_sid=call_sid,
        caller=caller,
        control=control,
        wait_before=starts,
        reply_quiet_s=reply_quiet_s,
        reply_timeout_s=reply_timeout_s,
    )
    del report.turns[len(turns) :]  # the last wait was for the final reply, not a turn
    return report


async def run_calls(
    account: Account,
    audios: list[Pcm],
    *,
    calls: int,
    dtmf: str = "",
    barge_in: bool = False,
    ramp_s: float = 1.0,
) -> list[CallReport]:
    """Place ``calls`` concurrent calls, their starts spread over ``ramp_s`` seconds. With
    ``barge_in`` each caller waits a second (the agent speaks) before speaking over it."""
    if barge_in:
        pause = np.zeros(TELEPHONE_RATE, dtype=np.int16)
        audios = [np.concatenate([pause, audio]) for audio in audios]

    async def one(index: int) -> CallReport:
        await asyncio.sleep(ramp_s * index / max(1, calls))
        return await run_call(account, audios[index % len(audios)], dtmf=dtmf, barge_in=barge_in)

    return list(await asyncio.gather(*(one(i) for i in range(calls))))


def _percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "p99": None}
    p50, p95, p99 = np.percentile(np.array(values), [50, 95, 99])
    return {"p50": round(float(p50), 2), "p95": round(float(p95), 2), "p99": round(float(p99), 2)}


def summarise(
    reports: list[CallReport], *, all_connected_at: float | None = None
) -> dict[str, Any]:
    """Aggregates of ``reports``. With ``all_connected_at`` (a ``time.monotonic()`` by which
    every call had connected), also the steady echo lag of frames sent from then on: N calls
    at once, without the set-up of calls still arriving."""
    ok = [r for r in reports if r.error is None]
    lag = [v for r in ok for v in r.echo_lag_ms]
    summary = {
        "calls": len(reports),
        "failed": len(reports) - len(ok),
        "errors": sorted({r.error for r in reports if r.error})[:5],
        "frames_sent": sum(r.frames_sent for r in ok),
        "frames_received": sum(r.frames_received for r in ok),
        "frames_lost": sum(r.frames_lost or 0 for r in ok),
        "marks_received": sum(r.marks_received for r in ok),
        "marks_echoed": sum(r.marks_echoed for r in ok),
        "max_send_slip_ms": round(max((r.max_send_slip_ms for r in ok), default=0.0), 2),
        # Completed status callbacks the server did not answer with a 2xx.
        "status_callbacks_refused": sum(
            1
            for r in reports
            if r.status_callback is not None and not 200 <= r.status_callback < 300
        ),
        "answer_to_first_audio_ms": _percentiles(
            [r.answer_to_first_audio_ms for r in ok if r.answer_to_first_audio_ms is not None]
        ),
        "voice_to_voice_ms": _percentiles(
            [r.voice_to_voice_ms for r in ok if r.voice_to_voice_ms is not None]
        ),
        "barge_in_cut_ms": _percentiles(
            [r.barge_in_cut_ms for r in ok if r.barge_in_cut_ms is not None]
        ),
        "dead_air": dead_air_summary([v for r in ok for v in r.dead_air_ms]),
        "echo_lag_ms": _percentiles(lag),
        "echo_lag_steady_ms": _percentiles([v for r in ok for v in r.echo_lag_steady_ms]),
    }
    if all_connected_at is not None:
        summary["echo_lag_all_connected_ms"] = _percentiles(
            [
                value
                for r in ok
                for value, sent in zip(r.echo_lag_steady_ms, r.echo_steady_sent_at, strict=True)
                if sent >= all_connected_at
            ]
        )
    return summary


def dead_air_summary(gaps: list[float]) -> dict[str, float | int]:
    """Silences from ``CallReport.dead_air_ms`` of one or more calls: count, total, longest."""
    return {
        "gaps": len(gaps),
        "total_ms": round(sum(gaps), 1),
        "longest_ms": round(max(gaps, default=0.0), 1),
    }


def report_dict(report: CallReport) -> dict[str, Any]:
    data = asdict(report)
    data["echo_lag_ms"] = _percentiles(report.echo_lag_ms)
    data["echo_lag_steady_ms"] = _percentiles(report.echo_lag_steady_ms)
    del data["echo_steady_sent_at"]
    return data

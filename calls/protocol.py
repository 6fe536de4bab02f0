"""Twilio Media Streams messages: parsing, validation and the malformed-input policy.

Every inbound WebSocket message becomes one typed, frozen dataclass or a ``Malformed``
exception naming its kind. Stateful checks (media before start, sequence numbers going
backwards) live in ``InboundStream``; the ``FloodPolicy`` decides when garbage has become
an attack rather than a glitch.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson

# Twilio sends 20 ms frames (160 bytes, about 300 bytes as JSON); `start` carries custom
# parameters. Anything far beyond is not Twilio.
MAX_MESSAGE_BYTES = 16 * 1024
MAX_MEDIA_BYTES = 1600  # 200 ms of μ-law
MAX_PARAMETERS = 32
DTMF_DIGITS = frozenset("0123456789*#ABCD")


class MalformedKind(StrEnum):
    INVALID_JSON = "invalid_json"
    BINARY_FRAME = "binary_frame"
    UNKNOWN_EVENT = "unknown_event"
    WRONG_TYPE = "wrong_type"
    BAD_BASE64 = "bad_base64"
    OVERSIZED = "oversized"
    MEDIA_BEFORE_START = "media_before_start"
    SEQUENCE_BACKWARDS = "sequence_backwards"
    WRONG_STREAM = "wrong_stream"
    DUPLICATE_START = "duplicate_start"
    DUPLICATE_CONNECTED = "duplicate_connected"
    RATE_EXCEEDED = "rate_exceeded"


class Malformed(ValueError):
    def __init__(self, kind: MalformedKind, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Connected:
    protocol: str
    version: str


@dataclass(frozen=True, slots=True)
class Start:
    sequence: int
    stream_sid: str
    account_sid: str
    call_sid: str
    tracks: tuple[str, ...]
    custom_parameters: dict[str, str]
    encoding: str
    sample_rate: int
    channels: int


@dataclass(frozen=True, slots=True)
class Media:
    sequence: int
    stream_sid: str
    track: str
    chunk: int
    timestamp_ms: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class Dtmf:
    sequence: int
    stream_sid: str
    track: str
    digit: str


@dataclass(frozen=True, slots=True)
class Mark:
    sequence: int
    stream_sid: str
    name: str


@dataclass(frozen=True, slots=True)
class Stop:
    sequence: int
    stream_sid: str
    account_sid: str
    call_sid: str


Message = Connected | Start | Media | Dtmf | Mark | Stop


def _obj(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Malformed(MalformedKind.WRONG_TYPE, f"{name} is not an object")
    return value


def _str(obj: dict[str, Any], key: str, *, max_len: int = 64) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise Malformed(MalformedKind.WRONG_TYPE, f"{key} is not a string")
    if len(value) > max_len:
        raise Malformed(MalformedKind.OVERSIZED, f"{key} is longer than {max_len}")
    return value


def _int_str(obj: dict[str, Any], key: str) -> int:
    # Twilio sends counters as decimal strings.
    value = _str(obj, key, max_len=12)
    if not value.isascii() or not value.isdigit():
        raise Malformed(MalformedKind.WRONG_TYPE, f"{key} is not a decimal string")
    return int(value)


def _int(obj: dict[str, Any], key: str) -> int:
    value = obj.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise Malformed(MalformedKind.WRONG_TYPE, f"{key} is not an integer")
    return value


def _start(msg: dict[str, Any]) -> Start:
    body = _obj(msg.get("start"), "start")
    fmt = _obj(body.get("mediaFormat"), "start.mediaFormat")
    tracks = body.get("tracks")
    if not isinstance(tracks, list) or not all(isinstance(t, str) for t in tracks):
        raise Malformed(MalformedKind.WRONG_TYPE, "start.tracks is not a list of strings")
    params = body.get("customParameters", {})
    params = _obj(params, "start.customParameters")
    if len(params) > MAX_PARAMETERS:
        raise Malformed(MalformedKind.OVERSIZED, "too many customParameters")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in params.items()):
        raise Malformed(MalformedKind.WRONG_TYPE, "customParameters are not strings")
    return Start(
        sequence=_int_str(msg, "sequenceNumber"),
        stream_sid=_str(msg, "streamSid"),
        account_sid=_str(body, "accountSid"),
        call_sid=_str(body, "callSid"),
        tracks=tuple(tracks),
        custom_parameters=dict(params),
        encoding=_str(fmt, "encoding"),
        sample_rate=_int(fmt, "sampleRate"),
        channels=_int(fmt, "channels"),
    )


def _media(msg: dict[str, Any]) -> Media:
    body = _obj(msg.get("media"), "media")
    encoded = _str(body, "payload", max_len=MAX_MEDIA_BYTES * 4 // 3 + 4)
    try:
        payload = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Malformed(MalformedKind.BAD_BASE64, "media.payload is not base64") from exc
    return Media(
        sequence=_int_str(msg, "sequenceNumber"),
        stream_sid=_str(msg, "streamSid"),
        track=_str(body, "track"),
        chunk=_int_str(body, "chunk"),
        timestamp_ms=_int_str(body, "timestamp"),
        payload=payload,
    )


def _dtmf(msg: dict[str, Any]) -> Dtmf:
    body = _obj(msg.get("dtmf"), "dtmf")
    digit = _str(body, "digit", max_len=1)
    if digit not in DTMF_DIGITS:
        raise Malformed(MalformedKind.WRONG_TYPE, "dtmf.digit is not a DTMF digit")
    return Dtmf(
        sequence=_int_str(msg, "sequenceNumber"),
        stream_sid=_str(msg, "streamSid"),
        track=_str(body, "track"),
        digit=digit,
    )


def _mark(msg: dict[str, Any]) -> Mark:
    body = _obj(msg.get("mark"), "mark")
    return Mark(
        sequence=_int_str(msg, "sequenceNumber"),
        stream_sid=_str(msg, "streamSid"),
        name=_str(body, "name", max_len=128),
    )


def _stop(msg: dict[str, Any]) -> Stop:
    body = _obj(msg.get("stop"), "stop")
    return Stop(
        sequence=_int_str(msg, "sequenceNumber"),
        stream_sid=_str(msg, "streamSid"),
        account_sid=_str(body, "accountSid"),
        call_sid=_str(body, "callSid"),
    )


def _connected(msg: dict[str, Any]) -> Connected:
    return Connected(protocol=_str(msg, "protocol"), version=_str(msg, "version"))


_PARSERS: dict[str, Callable[[dict[str, Any]], Message]] = {
    "connected": _connected,
    "start": _start,
    "media": _media,
    "dtmf": _dtmf,
    "mark": _mark,
    "stop": _stop,
}


def parse_message(text: str | None, binary: bytes | None = None) -> Message:
    """One WebSocket message → one Message, or raise Malformed."""
    if text is None:
        raise Malformed(MalformedKind.BINARY_FRAME, f"{len(binary or b'')} bytes of binary")
    if len(text) > MAX_MESSAGE_BYTES:
        raise Malformed(MalformedKind.OVERSIZED, f"message of {len(text)} characters")
    try:
        # orjson: ~4x faster than json on Twilio's ~300-byte media messages; it rejects
        # what json rejects (and lone surrogates, NaN), all as ValueError.
        msg = orjson.loads(text)
    except (ValueError, RecursionError) as exc:
        raise Malformed(MalformedKind.INVALID_JSON, "not JSON") from exc
    msg = _obj(msg, "message")
    event = msg.get("event")
    parser = _PARSERS.get(event) if isinstance(event, str) else None
    if parser is None:
        raise Malformed(MalformedKind.UNKNOWN_EVENT, f"event {str(event)[:32]!r}")
    message = parser(msg)
    if isinstance(message, Media) and len(message.payload) > MAX_MEDIA_BYTES:
        raise Malformed(MalformedKind.OVERSIZED, f"media of {len(message.payload)} bytes")
    return message


@dataclass
class FloodPolicy:
    """Leaky bucket over malformed messages: bursts up to ``capacity`` are tolerated (a
    glitching proxy), a sustained rate above ``leak_per_s`` is a flood that ends the call."""

    capacity: float = 50.0
    leak_per_s: float = 10.0
    _level: float = 0.0
    _at: float | None = None

    def record(self, now: float | None = None) -> bool:
        """Count one malformed message; True when the flood limit is crossed."""
        now = time.monotonic() if now is None else now
        elapsed = 0.0 if self._at is None else max(0.0, now - self._at)
        self._level = max(0.0, self._level - elapsed * self.leak_per_s) + 1.0
        self._at = now
        return self._level > self.capacity


@dataclass
class RatePolicy:
    """Token bucket over every inbound message: Twilio sends 50 media frames a second plus
    a few marks and keys, and catches up in bursts after a network stall. A stream that
    sustains far more is not Twilio, and is cut before it starves the other calls of the
    process's event loop."""

    per_s: float = 150.0
    burst_s: float = 2.0
    _tokens: float | None = None
    _at: float = 0.0

    def allow(self, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        capacity = self.per_s * self.burst_s
        if self._tokens is None:
            self._tokens = capacity
        else:
            self._tokens = min(capacity, self._tokens + (now - self._at) * self.per_s)
        self._at = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True


class InboundStream:
    """Stateful validation of one stream's messages; counts what it refuses."""

    def __init__(self, *, flood: FloodPolicy | None = None, rate: RatePolicy | None = None) -> None:
        self.connected = False
        self.rate = rate or RatePolicy()
        self.start: Start | None = None
        self.last_sequence = 0
        self.malformed: Counter[str] = Counter()
        self.flood = flood or FloodPolicy()
        self.flooded = False

    def accept(self, text: str | None, binary: bytes | None = None) -> Message:
        """Parse and check one message; raise Malformed (already counted) when refused."""
        if not self.rate.allow():
            self.malformed[MalformedKind.RATE_EXCEEDED] += 1
            self.flooded = True
            raise Malformed(MalformedKind.RATE_EXCEEDED, "more messages than Twilio sends")
        try:
            message = parse_message(text, binary)
            self._check(message)
        except Malformed as exc:
            self.malformed[exc.kind] += 1
            if self.flood.record():
                self.flooded = True
            raise
        return message

    def _check(self, message: Message) -> None:
        if isinstance(message, Connected):
            # Twilio says it once, first: more is someone keeping a socket busy.
            if self.connected or self.start is not None:
                raise Malformed(MalformedKind.DUPLICATE_CONNECTED, "a second connected")
            self.connected = True
            return
        if isinstance(message, Start):
            if self.start is not None:
                raise Malformed(MalformedKind.DUPLICATE_START, "a second start")
        elif self.start is None:
            raise Malformed(MalformedKind.MEDIA_BEFORE_START, f"{type(message).__name__}")
        elif message.stream_sid != self.start.stream_sid:
            raise Malformed(MalformedKind.WRONG_STREAM, "streamSid differs from start")
        if message.sequence <= self.last_sequence:
            raise Malformed(
                MalformedKind.SEQUENCE_BACKWARDS,
                f"sequence {message.sequence} after {self.last_sequence}",
            )
        self.last_sequence = message.sequence
        if isinstance(message, Start):
            self.start = message

    @property
    def malformed_total(self) -> int:
        return sum(self.malformed.values())

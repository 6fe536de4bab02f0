"""``/tts``: streaming text-to-speech over a WebSocket.

Client: ``{"type": "start", "voice": "en_US-joe-medium", "sample_rate": 8000|16000|null}``,
then ``{"type": "speak", "id": "s1", "text": "..."}`` per sentence, ``{"type": "cancel"}``
to drop what is queued or playing (barge-in), ``{"type": "end"}`` to finish. Server:
``ready`` (with the output sample rate), binary PCM16 chunks for the current ``speak``, then
``done`` (``cancelled`` true when cut short). Speak requests are served in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
from aiohttp import WSMsgType, web

from inference.audio import float_to_pcm16, resample, trim_leading_silence
from inference.limits import Busy
from inference.server import (
    CLOSE_TIMEOUT_S,
    SERVICE_KEY,
    ProtocolError,
    Service,
    client_messages,
    parse_control,
    send_error,
    socket_admission,
)
from inference.tts import MAX_TEXT_CHARS, TtsEngine

CHUNK_S = 0.2  # audio goes out in chunks this long, so playback starts early
OUTPUT_RATES = (8_000, 16_000, 22_050, 24_000, 44_100, 48_000)
_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_END = object()


class TtsSession:
    def __init__(self, service: Service, ws: web.WebSocketResponse) -> None:
        self.service = service
        self.ws = ws
        self.engine: TtsEngine | None = None
        self.out_rate = 0
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=64)
        self.generation = 0  # bumped by cancel: work from an older generation stops
        self.speaking = False
        self.send_lock = asyncio.Lock()

    def busy(self) -> bool:
        """Sentences are queued or being synthesised: the client is waiting, not idle."""
        return self.speaking or not self.queue.empty()

    def provenance(self) -> dict[str, str]:
        info = self.engine.info.as_dict() if self.engine else {}
        return self.service.provenance("tts", info)

    async def send_json(self, message: dict[str, Any]) -> None:
        async with self.send_lock:
            if not self.ws.closed:
                await self.ws.send_json({**message, **self.provenance()})

    async def send_audio(self, data: bytes) -> None:
        async with self.send_lock:
            if not self.ws.closed:
                await self.ws.send_bytes(data)

    def start(self, message: dict[str, Any]) -> None:
        if self.engine is not None:
            raise ProtocolError("bad_message", "start sent twice")
        voice = message.get("voice") or next(iter(self.service.tts))
        if voice not in self.service.tts:
            raise ProtocolError(
                "unknown_voice",
                f"unknown voice {voice!r}; this region has {sorted(self.service.tts)}",
                close=1008,
            )
        self.engine = self.service.tts[voice]
        rate = message.get("sample_rate") or self.engine.sample_rate
        if rate not in (*OUTPUT_RATES, self.engine.sample_rate):
            raise ProtocolError("bad_message", f"sample_rate must be one of {OUTPUT_RATES}")
        self.out_rate = int(rate)

    def parse_speak(self, message: dict[str, Any]) -> dict[str, Any]:
        text, speak_id = message.get("text"), message.get("id", "")
        if not isinstance(text, str) or not text.strip():
            raise ProtocolError("bad_message", "speak needs a non-empty text")
        if len(text) > MAX_TEXT_CHARS:
            raise ProtocolError("too_large", f"text over {MAX_TEXT_CHARS} characters")
        if not isinstance(speak_id, str) or (speak_id and not _ID_RE.match(speak_id)):
            raise ProtocolError("bad_message", "id is 1-64 of A-Z a-z 0-9 . _ : -")
        return {"id": speak_id, "text": text, "received": time.perf_counter()}

    def cancel(self) -> None:
        self.generation += 1
        while not self.queue.empty():
            self.queue.get_nowait()

    async def speak(self, request: dict[str, Any]) -> None:
        assert self.engine is not None
        engine, generation = self.engine, self.generation
        samples, first_audio_ms = 0, None
        cancelled = False
        try:
            async with self.service.tts_admission.slot():
                sentences: Iterator[np.ndarray] = iter(engine.synthesize(request["text"]))
                while True:
                    audio = await self.service.run(next, sentences, None)
                    if audio is None:
                        break
                    if generation != self.generation:
                        cancelled = True
                        break
                    if samples == 0:  # the utterance's first words, not a pause, come first
                        audio = trim_leading_silence(audio, engine.sample_rate)
                    audio = resample(audio, from_rate=engine.sample_rate, to_rate=self.out_rate)
                    step = int(CHUNK_S * self.out_rate)
                    for i in range(0, len(audio), step):
                        await self.send_audio(float_to_pcm16(audio[i : i + step]))
                        if first_audio_ms is None:
                            first_audio_ms = (time.perf_counter() - request["received"]) * 1000
                    samples += len(audio)
        except Busy as exc:
            await self.send_json(
                {"type": "error", "code": "busy", "message": str(exc), "id": request["id"]}
            )
            return
        await self.send_json(
            {
                "type": "done",
                "id": request["id"],
                "cancelled": cancelled,
                "samples": samples,
                "audio_s": round(samples / self.out_rate, 3),
                "first_audio_ms": None if first_audio_ms is None else round(first_audio_ms, 1),
            }
        )

    async def worker(self) -> None:
        while True:
            request = await self.queue.get()
            if request is _END:
                return
            self.speaking = True
            try:
                await self.speak(request)
            finally:
                self.speaking = False

    async def handle(self, msg_type: WSMsgType, data: Any) -> bool:
        if msg_type == WSMsgType.BINARY:
            raise ProtocolError("bad_message", "/tts takes only JSON text messages", close=1003)
        if msg_type != WSMsgType.TEXT:
            return False
        message = parse_control(data)
        kind = message["type"]
        if kind == "start":
            self.start(message)
            await self.send_json(
                {
                    "type": "ready",
                    "sample_rate": self.out_rate,
                    "encoding": "pcm_s16le",
                    "channels": 1,
                    "voices": sorted(self.service.tts),
                }
            )
        elif self.engine is None:
            raise ProtocolError("bad_message", f"{kind!r} before start", close=1008)
        elif kind == "speak":
            request = self.parse_speak(message)
            if self.queue.full():
                raise ProtocolError("busy", "over 64 speak requests queued on this socket")
            self.queue.put_nowait(request)
        elif kind == "cancel":
            self.cancel()
        elif kind == "end":
            return False
        else:
            raise ProtocolError("bad_message", f"unknown message type {kind!r}")
        return True


async def tts_socket(request: web.Request) -> web.StreamResponse:
    with socket_admission(request) as refusal:
        if refusal is not None:
            return refusal
        return await _serve_tts(request)


async def _serve_tts(request: web.Request) -> web.WebSocketResponse:
    service = request.app[SERVICE_KEY]
    ws = web.WebSocketResponse(max_msg_size=64 * 1024, heartbeat=30, timeout=CLOSE_TIMEOUT_S)
    await ws.prepare(request)
    session = TtsSession(service, ws)
    worker = asyncio.create_task(session.worker())
    graceful = False
    try:
        async for msg in client_messages(
            ws, idle_s=service.config.tts_idle_timeout_s, busy=session.busy
        ):
            try:
                if not await session.handle(msg.type, msg.data):
                    graceful = msg.type == WSMsgType.TEXT
                    break
            except ProtocolError as exc:
                await send_error(ws, exc, session.provenance())
                if exc.close is not None:
                    break
        if graceful:
            # "end": finish what was asked for, then close.
            await session.queue.put(_END)  # type: ignore[arg-type]
            await worker
    finally:
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker
        await ws.close()
    return ws

"""``/asr``: streaming speech-to-text over a WebSocket.

Client: ``{"type": "start", "model": "tiny.en"|"base", "language": null, "partials": true}``,
then binary frames of 16 kHz mono PCM16 (little-endian), ``{"type": "flush"}`` at the end of
each utterance and ``{"type": "end"}`` to finish. Server: ``ready``, ``partial`` (while
audio arrives, when a slot is free), ``final`` (with word timestamps) after each flush, and
``error``. Every message names the region, service, model and version.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import numpy as np
from aiohttp import WSMsgType, web

from inference.asr import MAX_UTTERANCE_S, AsrEngine, Transcript
from inference.audio import ASR_SAMPLE_RATE, AudioFormatError, pcm16_to_float
from inference.limits import Busy
from inference.server import (
    SERVICE_KEY,
    ProtocolError,
    Service,
    parse_control,
    send_error,
)

MAX_SAMPLES = int(MAX_UTTERANCE_S * ASR_SAMPLE_RATE)


class AsrSession:
    def __init__(self, service: Service, ws: web.WebSocketResponse) -> None:
        self.service = service
        self.ws = ws
        self.engine: AsrEngine | None = None
        self.language: str | None = None
        self.partials = True
        self.chunks: list[np.ndarray] = []
        self.samples = 0
        self.samples_at_last_partial = 0
        self.partial_task: asyncio.Task[None] | None = None
        self.send_lock = asyncio.Lock()

    async def send(self, message: dict[str, Any]) -> None:
        assert self.engine is not None
        async with self.send_lock:
            if not self.ws.closed:
                await self.ws.send_json(
                    {**message, **self.service.provenance("asr", self.engine.info.as_dict())}
                )

    def start(self, message: dict[str, Any]) -> None:
        if self.engine is not None:
            raise ProtocolError("bad_message", "start sent twice")
        model = message.get("model", "tiny.en")
        if model not in self.service.asr:
            raise ProtocolError(
                "unknown_model",
                f"unknown ASR model {model!r}; this region has {sorted(self.service.asr)}",
                close=1008,
            )
        language = message.get("language")
        if language is not None and not (isinstance(language, str) and 2 <= len(language) <= 3):
            raise ProtocolError("bad_message", "language is a 2-3 letter code or null")
        if message.get("sample_rate", ASR_SAMPLE_RATE) != ASR_SAMPLE_RATE:
            raise ProtocolError("bad_audio", "audio must be 16000 Hz PCM16", close=1008)
        self.engine = self.service.asr[model]
        self.language = language
        self.partials = bool(message.get("partials", True))

    def add_audio(self, data: bytes) -> None:
        if self.engine is None:
            raise ProtocolError("bad_message", "audio before start", close=1008)
        try:
            samples = pcm16_to_float(data)
        except AudioFormatError as exc:
            raise ProtocolError("bad_audio", str(exc)) from exc
        self.chunks.append(samples)
        self.samples += len(samples)

    def take_audio(self, limit: int | None = None) -> np.ndarray:
        audio = np.concatenate(self.chunks) if self.chunks else np.zeros(0, np.float32)
        if limit is not None and len(audio) > limit:
            self.chunks, audio = [audio[limit:]], audio[:limit]
        else:
            self.chunks = []
        self.samples = sum(len(c) for c in self.chunks)
        self.samples_at_last_partial = 0
        return audio

    async def maybe_partial(self) -> None:
        interval = int(self.service.config.partial_interval_s * ASR_SAMPLE_RATE)
        if not self.partials or self.samples - self.samples_at_last_partial < interval:
            return
        if self.partial_task is not None and not self.partial_task.done():
            return
        self.samples_at_last_partial = self.samples
        audio = np.concatenate(self.chunks)
        self.partial_task = asyncio.create_task(self._partial(audio))

    async def _partial(self, audio: np.ndarray) -> None:
        assert self.engine is not None
        try:
            # Partials are optional: when every slot is taken they are skipped, never queued
            # ahead of another caller's final.
            async with self.service.asr_admission.slot(wait=False):
                transcript = await self.service.run(
                    self.engine.transcribe,
                    audio,
                    language=self.language,
                    word_timestamps=False,
                    beam_size=1,
                    fallback=False,
                )
        except Busy:
            return
        await self.send(
            {"type": "partial", "text": transcript.text, "audio_s": len(audio) / ASR_SAMPLE_RATE}
        )

    async def cancel_partial(self) -> None:
        if self.partial_task is not None:
            self.partial_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.partial_task
            self.partial_task = None

    async def final(self, audio: np.ndarray) -> None:
        assert self.engine is not None
        started = time.perf_counter()
        try:
            async with self.service.asr_admission.slot():
                queued_ms = (time.perf_counter() - started) * 1000
                transcript: Transcript = await self.service.run(
                    self.engine.transcribe,
                    audio,
                    language=self.language,
                    beam_size=self.service.config.asr_beam_size,
                    fallback=self.service.config.asr_fallback,
                )
        except Busy as exc:
            # The utterance is lost to this request; the client may resend it.
            await self.send(
                {
                    "type": "error",
                    "code": "busy",
                    "message": str(exc),
                    "audio_s": len(audio) / ASR_SAMPLE_RATE,
                }
            )
            return
        await self.send(
            {
                "type": "final",
                "text": transcript.text,
                "language": transcript.language,
                "audio_s": transcript.duration_s,
                "words": [
                    {"text": w.text, "start": w.start, "end": w.end, "p": w.probability}
                    for w in transcript.words
                ],
                "queued_ms": round(queued_ms, 1),
                "processing_ms": round((time.perf_counter() - started) * 1000 - queued_ms, 1),
            }
        )

    async def flush(self) -> None:
        await self.cancel_partial()
        while self.samples:
            await self.final(self.take_audio(MAX_SAMPLES))

    async def handle(self, msg_type: WSMsgType, data: Any) -> bool:
        """Handle one message; return False when the session is over."""
        if msg_type == WSMsgType.BINARY:
            self.add_audio(data)
            if self.samples >= MAX_SAMPLES:
                await self.cancel_partial()
                await self.final(self.take_audio(MAX_SAMPLES))
            else:
                await self.maybe_partial()
            return True
        if msg_type != WSMsgType.TEXT:
            return False
        message = parse_control(data)
        kind = message["type"]
        if kind == "start":
            self.start(message)
            await self.send(
                {"type": "ready", "sample_rate": ASR_SAMPLE_RATE, "encoding": "pcm_s16le"}
            )
        elif self.engine is None:
            raise ProtocolError("bad_message", f"{kind!r} before start", close=1008)
        elif kind == "flush":
            await self.flush()
        elif kind == "end":
            await self.flush()
            await self.send({"type": "end"})
            return False
        else:
            raise ProtocolError("bad_message", f"unknown message type {kind!r}")
        return True


async def asr_socket(request: web.Request) -> web.WebSocketResponse:
    service = request.app[SERVICE_KEY]
    ws = web.WebSocketResponse(max_msg_size=service.config.max_frame_bytes, heartbeat=30)
    await ws.prepare(request)
    session = AsrSession(service, ws)
    try:
        async for msg in ws:
            try:
                if not await session.handle(msg.type, msg.data):
                    break
            except ProtocolError as exc:
                await send_error(ws, exc, {"region": service.config.region, "service": "asr"})
                if exc.close is not None:
                    break
    finally:
        await session.cancel_partial()
        await ws.close()
    return ws

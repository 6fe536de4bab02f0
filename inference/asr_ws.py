"""``/asr``: streaming speech-to-text over a WebSocket.

Client: ``{"type": "start", "model": "tiny.en"|"base", "language": null, "partials": true}``,
then binary frames of 16 kHz mono PCM16 (little-endian), ``{"type": "flush"}`` at the end of
each utterance and ``{"type": "end"}`` to finish. ``{"type": "peek"}`` asks, at a likely end
of utterance, for what a flush would answer now while keeping the audio: more speech may
follow, and the next flush then transcribes the whole utterance in one pass. Server:
``ready``, ``partial`` (while audio arrives, when a slot is free), ``final`` (with word
timestamps) after each flush, ``peek`` (a final's text, no word timings; ``skipped`` when
every slot was taken: a peek never queues; ``from_partial`` when the latest partial already
covered all but a quiet tail) and ``error``. Every message names the region, service, model
and version.
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
    CLOSE_TIMEOUT_S,
    SERVICE_KEY,
    ProtocolError,
    Service,
    client_messages,
    parse_control,
    send_error,
    socket_admission,
)

MAX_SAMPLES = int(MAX_UTTERANCE_S * ASR_SAMPLE_RATE)
# Audio below this level after a partial's end (a pause on a phone line) adds no words: a
# peek answers with that partial instead of transcribing the same speech again. Judged per
# 20 ms, so that a word's last consonant is not averaged away by the silence after it.
TAIL_DBFS = -40.0
_TAIL_WINDOW = ASR_SAMPLE_RATE // 50
# A peek comes tens of milliseconds after the caller's last word, and Whisper mishears a
# word that ends its audio abruptly (an espeak "joke" came back "note"): the peek's audio
# is followed by this much silence, as a final's would be by the pause itself, and a
# partial stands for a peek only if it too ended in that much quiet audio.
PEEK_PAD_S = 0.3
_PEEK_PAD = int(PEEK_PAD_S * ASR_SAMPLE_RATE)


def _answers_peek(covered: int, audio: np.ndarray) -> bool:
    """A partial of ``audio[:covered]`` is what a peek of ``audio`` would say when its last
    ``PEEK_PAD_S`` and everything after were quiet (the words had ended before it)."""
    return _PEEK_PAD <= covered <= len(audio) and _quiet(audio[covered - _PEEK_PAD :])


def _quiet(audio: np.ndarray) -> bool:
    if not len(audio):
        return True
    padded = np.zeros(-(-len(audio) // _TAIL_WINDOW) * _TAIL_WINDOW, np.float32)
    padded[: len(audio)] = audio
    windows = padded.reshape(-1, _TAIL_WINDOW)
    loudest = float(np.sqrt(np.mean(np.square(windows), axis=1)).max())
    return loudest < 10 ** (TAIL_DBFS / 20)


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
        self.last_partial: tuple[int, str] | None = None  # (samples it covered, text)
        # After a peek, quiet audio starts no partials: the peek already said what was
        # heard, and the reply being prepared needs the cores. Louder audio resumes them.
        self.quiet_since_peek = False
        self.send_lock = asyncio.Lock()

    def busy(self) -> bool:
        """Work of this socket's is running (a partial: finals run inside ``handle``)."""
        return self.partial_task is not None and not self.partial_task.done()

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
        self.last_partial = None
        self.quiet_since_peek = False
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
        self.service.jobs["asr.partial"] += 1
        self.last_partial = (len(audio), transcript.text)
        await self.send(
            {"type": "partial", "text": transcript.text, "audio_s": len(audio) / ASR_SAMPLE_RATE}
        )

    async def cancel_partial(self) -> None:
        if self.partial_task is not None:
            self.partial_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.partial_task
            self.partial_task = None

    async def _transcribe(
        self, audio: np.ndarray, *, wait: bool, word_timestamps: bool = True
    ) -> dict[str, Any]:
        """A final's transcript of ``audio`` as the message fields that carry it."""
        assert self.engine is not None
        started = time.perf_counter()
        async with self.service.asr_admission.slot(wait=wait):
            queued_ms = (time.perf_counter() - started) * 1000
            transcript: Transcript = await self.service.run(
                self.engine.transcribe,
                audio,
                language=self.language,
                word_timestamps=word_timestamps,
                beam_size=self.service.config.asr_beam_size,
                fallback=self.service.config.asr_fallback,
            )
        return {
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

    async def final(self, audio: np.ndarray) -> None:
        try:
            fields = await self._transcribe(audio, wait=True)
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
        self.service.jobs["asr.final"] += 1
        await self.send({"type": "final", **fields})

    async def peek(self) -> None:
        """What a flush would answer now (its text; no word timings); the audio stays for
        the next flush. A partial decodes as a final does (greedy, one pass) when finals
        are configured so: one whose last ``PEEK_PAD_S`` and everything after were quiet is
        the answer, and such a one still running is waited for rather than raced on the
        same cores (a running one that cannot be the answer is cancelled). Otherwise a
        pass of its own over the audio and ``PEEK_PAD_S`` of silence, skipped (never
        queued) when every slot is taken."""
        audio = np.concatenate(self.chunks) if self.chunks else np.zeros(0, np.float32)
        audio = audio[: MAX_SAMPLES - _PEEK_PAD]
        config = self.service.config
        if config.asr_beam_size == 1 and not config.asr_fallback:
            running = self.partial_task
            # Waited for only when it will be the answer: one that began while the caller
            # was still speaking would only delay the peek's own pass.
            if (
                running is not None
                and not running.done()
                and _answers_peek(self.samples_at_last_partial, audio)
            ):
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.shield(running)
            if self.last_partial is not None:
                covered, text = self.last_partial
                if _answers_peek(covered, audio):
                    self.service.jobs["asr.peek_from_partial"] += 1
                    await self.send(
                        {
                            "type": "peek",
                            "skipped": False,
                            "text": text,
                            "audio_s": covered / ASR_SAMPLE_RATE,
                            "words": [],
                            "from_partial": True,
                        }
                    )
                    return
        await self.cancel_partial()
        padded = np.concatenate([audio, np.zeros(_PEEK_PAD, np.float32)])
        try:
            fields = await self._transcribe(padded, wait=False, word_timestamps=False)
        except Busy:
            self.service.jobs["asr.peek_skipped"] += 1
            await self.send({"type": "peek", "skipped": True, "text": ""})
            return
        self.service.jobs["asr.peek"] += 1
        fields["audio_s"] = len(audio) / ASR_SAMPLE_RATE
        await self.send({"type": "peek", "skipped": False, "from_partial": False, **fields})

    async def flush(self) -> None:
        await self.cancel_partial()
        while self.samples:
            await self.final(self.take_audio(MAX_SAMPLES))

    async def handle(self, msg_type: WSMsgType, data: Any) -> bool:
        """Handle one message; return False when the session is over."""
        if msg_type == WSMsgType.BINARY:
            self.add_audio(data)
            if self.quiet_since_peek and not _quiet(self.chunks[-1]):
                self.quiet_since_peek = False
            if self.samples >= MAX_SAMPLES:
                await self.cancel_partial()
                await self.final(self.take_audio(MAX_SAMPLES))
            elif not self.quiet_since_peek:
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
        elif kind == "peek":
            await self.peek()
            self.quiet_since_peek = True
        elif kind == "end":
            await self.flush()
            await self.send({"type": "end"})
            return False
        else:
            raise ProtocolError("bad_message", f"unknown message type {kind!r}")
        return True


async def asr_socket(request: web.Request) -> web.StreamResponse:
    with socket_admission(request) as refusal:
        if refusal is not None:
            return refusal
        return await _serve_asr(request)


async def _serve_asr(request: web.Request) -> web.WebSocketResponse:
    service = request.app[SERVICE_KEY]
    # A peer that does not answer our close within a second is dropped: the socket (and the
    # caller's share of the service) is released at once, idle or not.
    ws = web.WebSocketResponse(
        max_msg_size=service.config.max_frame_bytes, heartbeat=30, timeout=CLOSE_TIMEOUT_S
    )
    await ws.prepare(request)
    session = AsrSession(service, ws)
    try:
        async for msg in client_messages(
            ws, idle_s=service.config.idle_timeout_s, busy=session.busy
        ):
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

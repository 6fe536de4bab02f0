"""Async client for a region's inference service (the agent pipeline's only way in).

    client = InferenceClient(region.inference_url, token=region.inference_token,
                             tenant=str(tenant_id), call=str(call_id))
    async with client.asr(model="tiny.en") as asr:
        await asr.send_audio(pcm16_16k)           # repeatedly, e.g. 20 ms frames
        await asr.flush()                        # end of the caller's turn
        async for event in asr.events():         # partials, then the final
            if event.kind == "final": break
    async with client.tts(sample_rate=8000) as tts:
        async for chunk in tts.stream("Hello there.", speak_id="s1"):
            ...                                  # PCM16 bytes at tts.sample_rate

Every event carries ``provenance`` (region, service, model, version, engine) for the
ledger's proof-of-residency event.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

import aiohttp
import numpy as np

from inference.audio import float_to_pcm16
from inference.auth import auth_headers, client_ssl


class InferenceError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


class InferenceBusy(InferenceError):
    """The region's service refused the job at its concurrency limit; retry or fall back."""


class InferenceUnavailable(InferenceError):
    """The region's service cannot be reached; fall back (never to another region unless
    the tenant's policy names it)."""


@dataclass(frozen=True, slots=True)
class Provenance:
    region: str
    service: str
    model: str
    model_version: str
    engine: str

    @classmethod
    def from_message(cls, message: dict[str, Any]) -> Provenance:
        return cls(
            region=message["region"],
            service=message["service"],
            model=message.get("model", ""),
            model_version=message.get("model_version", ""),
            engine=message.get("engine", ""),
        )


@dataclass(frozen=True, slots=True)
class AsrEvent:
    kind: str  # "partial" | "peek" | "final" | "end"
    text: str
    provenance: Provenance
    words: tuple[dict[str, Any], ...] = ()
    language: str = ""
    audio_s: float = 0.0
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TtsDone:
    speak_id: str
    cancelled: bool
    samples: int
    first_audio_ms: float | None
    provenance: Provenance


def _raise_for(message: dict[str, Any]) -> None:
    if message.get("type") == "error":
        cls = InferenceBusy if message.get("code") == "busy" else InferenceError
        raise cls(message.get("code", "error"), message.get("message", ""))


class _Socket:
    def __init__(self, client: InferenceClient, path: str, start: dict[str, Any]) -> None:
        self._client = client
        self._path = path
        self._start = start
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self.ready: dict[str, Any] = {}

    @property
    def provenance(self) -> Provenance:
        return Provenance.from_message(self.ready)

    async def __aenter__(self) -> Self:
        session = await self._client.session()
        try:
            self._ws = await session.ws_connect(
                self._client.base_url + self._path,
                timeout=aiohttp.ClientWSTimeout(ws_close=5),
                headers=self._client.headers,
                ssl=client_ssl(),
            )
        except aiohttp.WSServerHandshakeError as exc:
            # 401: the region's token is wrong (configuration, not load); 429: this call or
            # tenant holds its share of the service's sockets.
            if exc.status == 429:
                raise InferenceBusy("busy", f"{self._client.base_url}: HTTP 429") from exc
            code = "unauthorized" if exc.status == 401 else "unavailable"
            raise InferenceError(code, f"{self._client.base_url}: {exc.status}") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise InferenceUnavailable("unavailable", f"{self._client.base_url}: {exc}") from exc
        await self._ws.send_json({"type": "start", **self._start})
        message = await self._receive_json()
        if message.get("type") != "ready":
            raise InferenceError("protocol", f"expected ready, got {message!r}")
        self.ready = message
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._ws is not None:
            await self._ws.close()

    @property
    def ws(self) -> aiohttp.ClientWebSocketResponse:
        assert self._ws is not None, "use the stream as an async context manager"
        return self._ws

    async def _receive(self) -> aiohttp.WSMessage:
        msg = await asyncio.wait_for(self.ws.receive(), self._client.timeout)
        if msg.type in (
            aiohttp.WSMsgType.CLOSE,
            aiohttp.WSMsgType.CLOSED,
            aiohttp.WSMsgType.CLOSING,
        ):
            raise InferenceError("closed", f"the service closed the socket ({self.ws.close_code})")
        if msg.type == aiohttp.WSMsgType.ERROR:
            raise InferenceError("closed", str(self.ws.exception()))
        return msg

    async def _receive_json(self) -> dict[str, Any]:
        msg = await self._receive()
        if msg.type != aiohttp.WSMsgType.TEXT:
            raise InferenceError("protocol", f"expected a text message, got {msg.type!r}")
        message: dict[str, Any] = msg.json()
        _raise_for(message)
        return message


class AsrStream(_Socket):
    FRAME_BYTES = 32_000  # 1 s per WebSocket frame, well under the service's frame limit

    async def send_audio(self, audio: bytes | np.ndarray) -> None:
        """16 kHz mono audio: PCM16 little-endian bytes, or float32 samples in [-1, 1]."""
        data = audio if isinstance(audio, bytes) else float_to_pcm16(audio)
        for i in range(0, len(data), self.FRAME_BYTES):
            await self.ws.send_bytes(data[i : i + self.FRAME_BYTES])

    async def flush(self) -> None:
        """The utterance is over: the service answers with its final transcript."""
        await self.ws.send_json({"type": "flush"})

    async def peek(self) -> None:
        """A likely end of the utterance: the service answers ``peek`` with what a flush
        would answer now and keeps the audio (more speech may follow)."""
        await self.ws.send_json({"type": "peek"})

    async def end(self) -> None:
        await self.ws.send_json({"type": "end"})

    async def receive(self) -> AsrEvent:
        message = await self._receive_json()
        return AsrEvent(
            kind=message["type"],
            text=message.get("text", ""),
            provenance=Provenance.from_message(message),
            words=tuple(message.get("words", ())),
            language=message.get("language", ""),
            audio_s=float(message.get("audio_s", 0.0)),
            raw=message,
        )

    async def events(self) -> AsyncIterator[AsrEvent]:
        while True:
            event = await self.receive()
            yield event
            if event.kind == "end":
                return


class TtsStream(_Socket):
    @property
    def sample_rate(self) -> int:
        return int(self.ready["sample_rate"])

    async def speak(self, text: str, *, speak_id: str = "") -> None:
        await self.ws.send_json({"type": "speak", "id": speak_id, "text": text})

    async def cancel(self) -> None:
        """Barge-in: drop queued sentences; the current one ends with ``cancelled``."""
        await self.ws.send_json({"type": "cancel"})

    async def receive(self) -> bytes | TtsDone:
        msg = await self._receive()
        if msg.type == aiohttp.WSMsgType.BINARY:
            return bytes(msg.data)
        message: dict[str, Any] = msg.json()
        _raise_for(message)
        return TtsDone(
            speak_id=message["id"],
            cancelled=bool(message["cancelled"]),
            samples=int(message["samples"]),
            first_audio_ms=message.get("first_audio_ms"),
            provenance=Provenance.from_message(message),
        )

    async def stream(self, text: str, *, speak_id: str = "") -> AsyncIterator[bytes]:
        """Speak ``text`` and yield its PCM16 chunks until the service says it is done."""
        await self.speak(text, speak_id=speak_id)
        while True:
            item = await self.receive()
            if isinstance(item, TtsDone):
                return
            yield item


class InferenceClient:
    def __init__(
        self,
        base_url: str,
        *,
        session: aiohttp.ClientSession | None = None,
        timeout: float = 60.0,
        token: str | None = None,
        tenant: str | None = None,
        call: str | None = None,
    ) -> None:
        """``token``: the region's inference token (``Region.inference_token``);
        ``tenant``/``call``: whom the work is for (the service's per-caller limits)."""
        self.base_url = base_url.rstrip("/")
        self.headers = auth_headers(token, tenant=tenant, call=call)
        self.timeout = timeout
        self._session = session
        self._owns_session = session is None

    async def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        return self._session

    async def close(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def health(self) -> dict[str, Any]:
        session = await self.session()
        try:
            async with session.get(
                self.base_url + "/healthz",
                timeout=aiohttp.ClientTimeout(total=5),
                headers=self.headers,
                ssl=client_ssl(),
            ) as response:
                response.raise_for_status()
                result: dict[str, Any] = await response.json()
                return result
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise InferenceUnavailable("unavailable", f"{self.base_url}: {exc}") from exc

    def asr(
        self, *, model: str = "tiny.en", language: str | None = None, partials: bool = True
    ) -> AsrStream:
        return AsrStream(self, "/asr", {"model": model, "language": language, "partials": partials})

    def tts(self, *, voice: str | None = None, sample_rate: int | None = None) -> TtsStream:
        return TtsStream(self, "/tts", {"voice": voice, "sample_rate": sample_rate})

    async def transcribe(
        self, audio: bytes | np.ndarray, *, model: str = "tiny.en", language: str | None = None
    ) -> AsrEvent:
        """One utterance in, its final transcript out."""
        async with self.asr(model=model, language=language, partials=False) as stream:
            await stream.send_audio(audio)
            await stream.end()
            final: AsrEvent | None = None
            async for event in stream.events():
                if event.kind == "final":
                    final = event
            if final is None:
                raise InferenceError("empty", "no audio was transcribed")
            return final

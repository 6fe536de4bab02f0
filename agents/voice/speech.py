"""Per-call building blocks of the agent pipeline: what one agent utterance played and the
caller heard (``Speech``), and one caller turn's streaming ASR session (``AsrTurn``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field

import numpy as np

from inference.client import AsrStream, InferenceError, Provenance

log = logging.getLogger(__name__)

_FLUSH = object()
_PEEK = object()
_CLOSE = object()


class _PieceListener:
    """The player's callbacks for one piece of a Speech (calls.pipeline.PlaybackListener)."""

    def __init__(self, speech: Speech, index: int) -> None:
        self.speech = speech
        self.index = index

    def started(self, at: float) -> None:
        self.speech.on_started(self.index, at)

    def starved(self, seconds: float, *, at_start: bool) -> None:
        self.speech.on_starved(self.index, seconds, at_start=at_start)

    def heard(self) -> None:
        self.speech.on_heard(self.index)


@dataclass
class Speech:
    """One agent utterance: its pieces in order (text on the piece that ends a sentence),
    which the caller heard, and when the first frame went out."""

    kind: str
    turn: int
    pieces: list[str] = field(default_factory=list)
    heard_pieces: set[int] = field(default_factory=set)
    first_frame_at: float | None = None
    generated: bool = False  # no more pieces will come
    interrupted: bool = False
    texts: list[str] = field(default_factory=list)  # every sentence generated
    on_first_frame: Callable[[Speech, float], None] | None = None
    # Silences (s) the caller heard inside the utterance: the player ran dry between its
    # pieces (TTS behind playback) or sent late. The one before its first piece is the
    # reply's latency, accounted for elsewhere.
    underruns: list[float] = field(default_factory=list)
    started: asyncio.Event = field(default_factory=asyncio.Event)  # its first frame went out
    played: asyncio.Event = field(default_factory=asyncio.Event)  # every mark came back
    recorded: bool = False  # its turn.agent event was queued

    def add_piece(self, text: str) -> _PieceListener:
        self.pieces.append(text)
        return _PieceListener(self, len(self.pieces) - 1)

    def on_started(self, index: int, at: float) -> None:
        if self.first_frame_at is None:
            self.first_frame_at = at
            self.started.set()
            if self.on_first_frame is not None:
                self.on_first_frame(self, at)

    def on_starved(self, index: int, seconds: float, *, at_start: bool) -> None:
        if index == 0 and at_start:
            return
        self.underruns.append(seconds)

    def on_heard(self, index: int) -> None:
        self.heard_pieces.add(index)
        self._check_played()

    def finish_generating(self) -> None:
        self.generated = True
        self._check_played()

    def _check_played(self) -> None:
        if self.generated and len(self.heard_pieces) == len(self.pieces):
            self.played.set()

    @property
    def text(self) -> str:
        return " ".join(self.texts)

    @property
    def heard_text(self) -> str:
        return " ".join(t for i, t in enumerate(self.pieces) if t and i in self.heard_pieces)

    @property
    def audible(self) -> bool:
        """Something was sent that the caller has not finished hearing."""
        return bool(self.pieces) and not self.played.is_set()


AsrConnect = Callable[[], AbstractAsyncContextManager[tuple[AsrStream, str]]]


class AsrTurn:
    """The caller's audio streamed to ASR while they speak; ``flush`` returns the text of
    everything sent so far (segments flushed earlier included: a cancelled speculative
    flush keeps its words). ``peek`` asks what a flush would return now without ending the
    segment: if the caller goes on, the next flush transcribes it whole. One owned task
    talks to the socket, a second reads it: partial transcripts (when the service sends
    them) go to ``on_partial`` as the turn's text so far, peeks and finals to whoever
    asked."""

    def __init__(
        self, connect: AsrConnect, *, on_partial: Callable[[str], None] | None = None
    ) -> None:
        self._connect = connect
        self._on_partial = on_partial
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._waiters: list[asyncio.Future[str]] = []
        self._peeks: list[asyncio.Future[str | None]] = []
        self.segments: list[str] = []
        self.provenance: Provenance | None = None
        self.endpoint = ""
        self.error: BaseException | None = None
        self.opened_at = time.monotonic()
        self._task = asyncio.create_task(self._run())

    def send(self, samples: np.ndarray) -> None:
        self._queue.put_nowait((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())

    async def flush(self) -> str:
        if self.error is not None:
            raise self.error
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        self._queue.put_nowait(_FLUSH)
        return await asyncio.shield(future)

    def peek(self) -> asyncio.Future[str | None]:
        """The turn's text as a flush now would give it (``None`` when the service had no
        free slot or the stream failed); the audio stays in the segment."""
        future: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        if self.error is not None:
            future.set_result(None)
            return future
        self._peeks.append(future)
        self._queue.put_nowait(_PEEK)
        return future

    def abort(self) -> asyncio.Task[None]:
        """Stop at once; the caller owns (awaits) the returned task."""
        self._task.cancel()
        return self._task

    async def close(self) -> None:
        self._queue.put_nowait(_CLOSE)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _run(self) -> None:
        try:
            async with self._connect() as (stream, endpoint):
                self.provenance, self.endpoint = stream.provenance, endpoint
                finals: asyncio.Queue[str | BaseException] = asyncio.Queue()
                reader = asyncio.create_task(self._read(stream, finals))
                try:
                    await self._write(stream, finals)
                finally:
                    reader.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await reader
        except Exception as exc:  # a waiting flush must learn of any failure
            if not isinstance(exc, InferenceError | OSError | TimeoutError):
                log.exception("ASR stream failed")
            self.error = exc
            for waiter in self._waiters:
                if not waiter.done():
                    waiter.set_exception(exc)
            self._waiters.clear()
        finally:
            for peek in self._peeks:  # a peek is only a shortcut: the flush says what failed
                if not peek.done():
                    peek.set_result(None)
            self._peeks.clear()

    async def _write(self, stream: AsrStream, finals: asyncio.Queue[str | BaseException]) -> None:
        while True:
            item = await self._queue.get()
            if item is _CLOSE:
                return
            if item is _FLUSH:
                await stream.flush()
                text = await finals.get()
                if isinstance(text, BaseException):
                    raise text
                if text:
                    self.segments.append(text)
                self._waiters.pop(0).set_result(" ".join(self.segments))
            elif item is _PEEK:
                await stream.peek()  # answered by the reader; audio goes on meanwhile
            else:
                assert isinstance(item, bytes)
                await stream.send_audio(item)

    async def _read(self, stream: AsrStream, finals: asyncio.Queue[str | BaseException]) -> None:
        try:
            while True:
                event = await stream.receive()
                if event.kind == "final":
                    finals.put_nowait(event.text.strip())
                elif event.kind == "peek" and self._peeks:
                    peek = self._peeks.pop(0)
                    text = event.text.strip()
                    if not peek.done():
                        skipped = event.raw.get("skipped", False)
                        peek.set_result(None if skipped else " ".join([*self.segments, text]))
                elif event.kind == "partial" and self._on_partial is not None:
                    text = event.text.strip()
                    if text:
                        self._on_partial(" ".join([*self.segments, text]))
        except Exception as exc:  # the writer raises it at the next flush
            finals.put_nowait(exc)
            for peek in self._peeks:  # no answer will come: the flush learns why
                if not peek.done():
                    peek.set_result(None)
            self._peeks.clear()

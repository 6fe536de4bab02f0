"""The per-call outbound player: agent PCM in, paced 20 ms μ-law ``media`` frames out.

Twilio plays what it receives in real time and buffers the rest. The player keeps that
buffer at most ``lead_ms`` ahead of the caller's ear, so a barge-in has little to discard,
and sends a ``mark`` after each chunk. Twilio echoes a mark once the audio before it has
played, so echoed marks are exactly what the caller heard; ``barge_in()`` sends ``clear``,
drops the queue and reports the cut-off point. Marks that Twilio returns because of the
clear were not heard and are not counted. A frame sent after Twilio's buffer ran dry is
reported to its chunk's listener with the silence the caller heard before it (``starved``):
inside an utterance, that is dead air.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from calls.audio import (
    FRAME_MS,
    FRAME_SAMPLES,
    TELEPHONE_RATE,
    ULAW_SILENCE,
    Pcm,
    resample_once,
    ulaw_encode,
)

if TYPE_CHECKING:
    from calls.pipeline import PlaybackListener

Send = Callable[[str], Awaitable[None]]


@dataclass(slots=True)
class _Chunk:
    id: int
    text: str
    frames: list[bytes]
    mark: bool = True  # False: audio continues in the next piece; no mark after this one
    sent_frames: int = 0
    play_start: float | None = None  # when Twilio starts playing its first frame (estimate)
    covers: list[_Chunk] = field(default_factory=list)  # unmarked pieces sent before it
    listener: PlaybackListener | None = None

    @property
    def duration_ms(self) -> int:
        return len(self.frames) * FRAME_MS

    @property
    def marked_ms(self) -> int:
        """The audio that this chunk's mark confirms: its own and the unmarked before it."""
        return self.duration_ms + sum(c.duration_ms for c in self.covers)


@dataclass(frozen=True, slots=True)
class HeardChunk:
    id: int
    text: str
    duration_ms: int


@dataclass(frozen=True, slots=True)
class CutOff:
    """Where a barge-in cut the agent off."""

    at: float
    heard: tuple[HeardChunk, ...]  # this turn's chunks whose marks came back before the cut
    partial_chunk_id: int | None  # the chunk playing at the cut, if any
    partial_heard_ms: int  # estimated from the playback clock, not confirmed by a mark
    discarded_ms: int  # audio queued or buffered at Twilio that the caller never heard

    @property
    def heard_text(self) -> str:
        return " ".join(c.text for c in self.heard if c.text)


@dataclass
class PlayerStats:
    frames_sent: int = 0
    marks_sent: int = 0
    marks_heard: int = 0
    marks_flushed: int = 0
    unknown_marks: int = 0
    clears: int = 0
    heard: list[HeardChunk] = field(default_factory=list)


class Player:
    def __init__(
        self,
        *,
        send: Send,
        stream_sid: str,
        lead_ms: int = 300,
        clock: Callable[[], float] = time.monotonic,
        on_frame: Callable[[bytes], None] | None = None,
    ) -> None:
        self._send = send
        self._on_frame = on_frame  # told each μ-law frame as it goes out (the recorder)
        self._prefix = '{"event":"media","streamSid":' + json.dumps(stream_sid)
        self._stream_sid = stream_sid
        self.lead_s = lead_ms / 1000
        self._clock = clock
        self._queue: deque[_Chunk] = deque()
        self._wake = asyncio.Event()
        self._current: _Chunk | None = None
        self._awaiting_mark: dict[str, _Chunk] = {}  # mark name -> chunk, in send order
        self._flushed: set[str] = set()
        self._buffer_end = 0.0  # when Twilio will have played everything sent so far
        self._next_id = 0
        self._heard_this_turn: list[HeardChunk] = []  # since the last clear
        self._unmarked: list[_Chunk] = []  # sent pieces that the next mark will confirm
        self.stats = PlayerStats()

    # --- input -------------------------------------------------------------------------
    def enqueue(
        self,
        pcm: Pcm,
        *,
        sample_rate: int,
        text: str = "",
        mark: bool = True,
        listener: PlaybackListener | None = None,
    ) -> int:
        """Queue one chunk of agent audio; returns its id (also its mark's name). With
        ``mark=False`` no mark follows it: the next marked chunk's mark confirms it."""
        # Whole chunks (TTS sentences) resample at once: no filter tail is held back
        # until the next chunk, so each mark falls where its audio ends.
        pcm = resample_once(pcm, in_rate=sample_rate, out_rate=TELEPHONE_RATE)
        encoded = ulaw_encode(pcm)
        # Pad the last frame with silence so that the mark falls exactly after this chunk.
        remainder = len(encoded) % FRAME_SAMPLES
        if remainder:
            encoded += bytes([ULAW_SILENCE]) * (FRAME_SAMPLES - remainder)
        frames = [encoded[i : i + FRAME_SAMPLES] for i in range(0, len(encoded), FRAME_SAMPLES)]
        self._next_id += 1
        self._queue.append(
            _Chunk(id=self._next_id, text=text, frames=frames, mark=mark, listener=listener)
        )
        self._wake.set()
        return self._next_id

    @property
    def lead(self) -> float:
        """Seconds of audio Twilio holds that the caller has not heard yet."""
        return max(0.0, self._buffer_end - self._clock())

    @property
    def idle(self) -> bool:
        return not self._queue and self._current is None and not self._awaiting_mark

    # --- output ------------------------------------------------------------------------
    async def run(self) -> None:
        """Send queued chunks forever (the owner cancels this task)."""
        while True:
            if not self._queue:
                self._wake.clear()
                await self._wake.wait()
                continue
            chunk = self._queue.popleft()
            self._current = chunk
            # A barge-in (while sleeping or sending) replaces _current and ends the loop.
            while self._current is chunk and chunk.sent_frames < len(chunk.frames):
                ahead = self._buffer_end - self._clock()
                if ahead > self.lead_s:
                    await asyncio.sleep(ahead - self.lead_s)
                    continue
                await self._send_frame(chunk)
            if self._current is chunk:
                self._current = None
                if not chunk.mark:
                    self._unmarked.append(chunk)
                    continue
                chunk.covers, self._unmarked = self._unmarked, []
                name = str(chunk.id)
                self._awaiting_mark[name] = chunk
                self.stats.marks_sent += 1
                await self._send(
                    json.dumps(
                        {"event": "mark", "streamSid": self._stream_sid, "mark": {"name": name}}
                    )
                )

    async def _send_frame(self, chunk: _Chunk) -> None:
        now = self._clock()
        start = max(self._buffer_end, now)
        if chunk.play_start is None:
            chunk.play_start = start
            if chunk.listener is not None:
                chunk.listener.started(now)
        silent_s = now - self._buffer_end  # > 0: Twilio had nothing left to play
        if silent_s >= FRAME_MS / 1000 and chunk.listener is not None:
            chunk.listener.starved(silent_s, at_start=chunk.sent_frames == 0)
        self._buffer_end = start + FRAME_MS / 1000
        frame = chunk.frames[chunk.sent_frames]
        if self._on_frame is not None:
            self._on_frame(frame)
        payload = base64.b64encode(frame).decode()
        chunk.sent_frames += 1
        self.stats.frames_sent += 1
        await self._send(self._prefix + ',"media":{"payload":"' + payload + '"}}')

    def on_mark(self, name: str) -> HeardChunk | None:
        """Twilio echoed a mark: the chunk before it was heard (unless a clear flushed it)."""
        if name in self._flushed:
            self._flushed.discard(name)
            self.stats.marks_flushed += 1
            return None
        chunk = self._awaiting_mark.pop(name, None)
        if chunk is None:
            self.stats.unknown_marks += 1
            return None
        heard = HeardChunk(id=chunk.id, text=chunk.text, duration_ms=chunk.marked_ms)
        self.stats.marks_heard += 1
        self.stats.heard.append(heard)
        self._heard_this_turn.append(heard)
        for piece in (*chunk.covers, chunk):
            if piece.listener is not None:
                piece.listener.heard()
        return heard

    async def barge_in(self) -> CutOff:
        """Stop the agent now: ``clear`` Twilio's buffer, drop the queue, report the cut."""
        now = self._clock()
        await self._send(json.dumps({"event": "clear", "streamSid": self._stream_sid}))
        self.stats.clears += 1
        unheard = [p for c in self._awaiting_mark.values() for p in (*c.covers, c)]
        unheard.extend(self._unmarked)
        if self._current is not None:
            unheard.append(self._current)
        partial_id, partial_ms = None, 0
        for chunk in unheard:
            if chunk.play_start is not None and chunk.play_start <= now:
                played = int((now - chunk.play_start) * 1000)
                partial_id, partial_ms = chunk.id, min(played, chunk.sent_frames * FRAME_MS)
        buffered_ms = sum(c.sent_frames * FRAME_MS for c in unheard) - partial_ms
        queued_ms = sum(c.duration_ms for c in self._queue)
        if self._current is not None:
            queued_ms += (len(self._current.frames) - self._current.sent_frames) * FRAME_MS
        # Twilio answers a clear by returning the pending marks: they were not heard.
        self._flushed.update(self._awaiting_mark)
        self._awaiting_mark.clear()
        self._unmarked.clear()
        self._queue.clear()
        self._current = None
        self._buffer_end = now
        heard = tuple(self._heard_this_turn)
        self._heard_this_turn.clear()
        return CutOff(
            at=now,
            heard=heard,
            partial_chunk_id=partial_id,
            partial_heard_ms=partial_ms,
            discarded_ms=max(0, buffered_ms) + queued_ms,
        )

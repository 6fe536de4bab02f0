from __future__ import annotations

import asyncio
import json
import time

import numpy as np
import pytest

from calls.audio import FRAME_SAMPLES, ulaw_decode
from calls.player import Player

SID = "MZ" + "0" * 32


class Wire:
    """Records what the player sends, with the time it was sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[float, dict]] = []

    async def send(self, text: str) -> None:
        self.sent.append((time.monotonic(), json.loads(text)))

    def events(self) -> list[str]:
        return [
            m["event"] if m["event"] != "mark" else f"mark:{m['mark']['name']}"
            for _, m in self.sent
        ]


def tone(ms: int, rate: int = 8000) -> np.ndarray:
    t = np.arange(rate * ms // 1000) / rate
    return (6000 * np.sin(2 * np.pi * 300 * t)).astype(np.int16)


async def run_for(player: Player, seconds: float) -> None:
    task = asyncio.create_task(player.run())
    await asyncio.sleep(seconds)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_frames_are_20ms_of_mulaw_followed_by_a_mark_per_chunk():
    wire = Wire()
    player = Player(send=wire.send, stream_sid=SID, lead_ms=300)
    pcm = tone(50)
    first = player.enqueue(pcm, sample_rate=8000, text="hello")
    second = player.enqueue(tone(20), sample_rate=8000, text="world")
    await run_for(player, 0.05)
    assert (first, second) == (1, 2)
    assert wire.events() == ["media", "media", "media", "mark:1", "media", "mark:2"]
    payloads = [base64_payload(m) for _, m in wire.sent if m["event"] == "media"]
    assert all(len(p) == FRAME_SAMPLES for p in payloads)
    assert all(m["streamSid"] == SID for _, m in wire.sent)
    # 50 ms is two and a half frames: the last is padded with μ-law silence.
    decoded = ulaw_decode(b"".join(payloads[:3]))
    assert np.all(decoded[400:] == 0)
    assert np.max(np.abs(decoded[:400].astype(int) - pcm)) < 300


def base64_payload(message: dict) -> bytes:
    import base64

    return base64.b64decode(message["media"]["payload"])


async def test_player_keeps_twilio_at_most_lead_ms_ahead_of_the_caller():
    wire = Wire()
    player = Player(send=wire.send, stream_sid=SID, lead_ms=100)
    player.enqueue(tone(1000), sample_rate=8000)
    await run_for(player, 0.3)
    media = [t for t, m in wire.sent if m["event"] == "media"]
    t0 = media[0]
    # Frame i starts playing at t0 + i*20 ms at the earliest; it may be sent at most
    # lead_ms (+ the frame being sent) before that.
    for i, sent_at in enumerate(media):
        assert i * 0.020 - (sent_at - t0) <= 0.100 + 0.020 + 1e-3
    assert 5 <= len(media) < 50  # paced: far fewer than the 50 frames queued


async def test_echoed_marks_are_what_the_caller_heard():
    wire = Wire()
    player = Player(send=wire.send, stream_sid=SID)
    for word in ("one", "two", "three"):
        player.enqueue(tone(20), sample_rate=8000, text=word)
    await run_for(player, 0.02)
    assert player.on_mark("1").text == "one"
    assert player.on_mark("2").text == "two"
    assert player.on_mark("no-such-mark") is None
    assert [c.text for c in player.stats.heard] == ["one", "two"]
    assert player.stats.unknown_marks == 1


async def test_barge_in_clears_twilio_discards_the_queue_and_reports_the_cut():
    wire = Wire()
    player = Player(send=wire.send, stream_sid=SID, lead_ms=300)
    for word in ("alpha", "beta", "gamma", "delta"):
        player.enqueue(tone(200), sample_rate=8000, text=word)
    task = asyncio.create_task(player.run())
    await asyncio.sleep(0.25)
    player.on_mark("1")  # Twilio played "alpha"
    cut = await player.barge_in()
    sent_before_return = len(wire.sent)
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # clear is sent inside barge_in() itself, and nothing follows it.
    assert wire.sent[sent_before_return - 1][1] == {"event": "clear", "streamSid": SID}
    assert len(wire.sent) == sent_before_return
    assert cut.heard_text == "alpha"
    assert cut.partial_chunk_id == 2
    assert 0 < cut.partial_heard_ms <= 200
    assert cut.discarded_ms >= 400  # gamma and delta never left the queue
    # Twilio returns the pending mark after a clear: it was not heard.
    assert player.on_mark("2") is None
    assert player.stats.marks_flushed == 1
    assert [c.text for c in player.stats.heard] == ["alpha"]


async def test_sixteen_khz_agent_audio_is_resampled_to_telephone_rate():
    wire = Wire()
    player = Player(send=wire.send, stream_sid=SID)
    player.enqueue(np.zeros(16000 // 5, dtype=np.int16), sample_rate=16000)  # 200 ms
    await run_for(player, 0.05)
    frames = [m for _, m in wire.sent if m["event"] == "media"]
    assert len(frames) == 10


class Listener:
    """A chunk's PlaybackListener that records what the player told it."""

    def __init__(self) -> None:
        self.starts: list[float] = []
        self.silences: list[tuple[float, bool]] = []

    def started(self, at: float) -> None:
        self.starts.append(at)

    def starved(self, seconds: float, *, at_start: bool) -> None:
        self.silences.append((round(seconds, 3), at_start))

    def heard(self) -> None:
        pass


async def test_audio_that_comes_after_twilio_played_everything_reports_the_silence_heard():
    now = [100.0]  # the player's clock, moved by hand: Twilio plays in real time by it
    wire = Wire()
    player = Player(send=wire.send, stream_sid=SID, lead_ms=300, clock=lambda: now[0])
    first, queued, late = Listener(), Listener(), Listener()
    player.enqueue(tone(40), sample_rate=8000, listener=first)
    player.enqueue(tone(40), sample_rate=8000, listener=queued)
    task = asyncio.create_task(player.run())
    await asyncio.sleep(0.02)
    now[0] += 0.5  # the 80 ms sent have played; the caller heard 420 ms of nothing
    player.enqueue(tone(40), sample_rate=8000, listener=late)
    await asyncio.sleep(0.02)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # The first chunk follows silence too (the player's owner knows it opens an
    # utterance); the one queued behind it plays on without a gap.
    assert [at_start for _, at_start in first.silences] == [True]
    assert queued.silences == []
    assert late.silences == [(0.42, True)]
    assert len(late.starts) == 1


async def test_a_player_that_sends_late_inside_a_chunk_reports_the_gap_mid_chunk():
    now = [100.0]
    wire = Wire()
    player = Player(send=wire.send, stream_sid=SID, lead_ms=100, clock=lambda: now[0])
    listener = Listener()
    player.enqueue(tone(1000), sample_rate=8000, listener=listener)
    task = asyncio.create_task(player.run())
    await asyncio.sleep(0.02)  # 120 ms sent (the lead and the frame being sent), then waits
    sent = sum(1 for _, m in wire.sent if m["event"] == "media")
    now[0] += 0.5  # the loop woke 500 ms late: Twilio ran dry 380 ms before the next frame
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert sent == 6
    assert listener.silences[1:] == [(0.38, False)]

"""VAD and turn detection fed real speech (LibriVox clips, espeak-ng) and silence."""

from __future__ import annotations

import numpy as np
import pytest

from agents.pipeline.turns import TurnConfig, TurnDetector, TurnEnded, TurnStarted
from agents.pipeline.vad import VadStream
from tests.speech import espeak, librivox, silence


def run(audio: np.ndarray, config: TurnConfig | None = None, frame: int = 320) -> list:
    vad, turns = VadStream(), TurnDetector(config)
    events: list = []
    for i in range(0, len(audio), frame):  # 20 ms frames, as from the phone line
        events += turns.feed(vad.feed(audio[i : i + frame]))
    return events


def test_two_utterances_separated_by_a_second_are_two_turns():
    first, second = librivox("0880"), librivox("0930")  # 2.99 s and 3.29 s
    audio = np.concatenate([silence(1.0), first, silence(1.0), second, silence(1.0)])
    events = run(audio)
    assert [type(e) for e in events] == [TurnStarted, TurnEnded, TurnStarted, TurnEnded]
    one, two = events[1], events[3]
    assert 1.0 <= events[0].start_s < 1.5
    assert 3.5 < one.end_s <= 4.1
    assert 5.0 <= events[2].start_s < 5.4
    assert 7.7 < two.end_s <= 8.3
    # The turn's audio keeps 192 ms from before the start, so first phonemes survive.
    assert events[0].start_s - one.start_s == pytest.approx(0.192, abs=0.001)
    # The end is decided after the configured silence, not before.
    assert one.detected_s - one.end_s == pytest.approx(0.6, abs=0.07)
    assert len(one.audio) / 16000 == pytest.approx(one.detected_s - one.start_s, abs=0.05)


def test_longer_end_of_speech_silence_merges_the_utterances():
    audio = np.concatenate([librivox("0880"), silence(1.0), librivox("0930"), silence(2.0)])
    events = run(audio, TurnConfig(end_silence_ms=1500))
    assert [type(e) for e in events] == [TurnStarted, TurnEnded]


def test_silence_and_quiet_noise_are_not_speech():
    rng = np.random.default_rng(7)
    noise = (rng.standard_normal(16000 * 3) * 0.003).astype(np.float32)
    assert run(np.concatenate([silence(2.0), noise])) == []


def test_synthetic_caller_speech_is_a_turn():
    audio = np.concatenate([silence(0.5), espeak("I would like to pay my bill."), silence(1.0)])
    events = run(audio)
    assert [type(e) for e in events] == [TurnStarted, TurnEnded]


def test_vad_keeps_partial_windows_between_feeds():
    audio = librivox("0880")
    vad_one, vad_many = VadStream(), VadStream()
    whole = vad_one.feed(audio)
    pieces = [f for i in range(0, len(audio), 100) for f in vad_many.feed(audio[i : i + 100])]
    assert [f.start_s for f in whole] == [f.start_s for f in pieces]
    assert [f.probability for f in whole] == pytest.approx(
        [f.probability for f in pieces], abs=1e-5
    )
    assert max(f.probability for f in whole) > 0.9


def test_bad_turn_config_is_refused():
    with pytest.raises(ValueError, match="end_threshold"):
        TurnConfig(start_threshold=0.3, end_threshold=0.5)

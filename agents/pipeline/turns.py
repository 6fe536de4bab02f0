"""Turn detection: from VAD frames to the caller's turns, with a configurable
end-of-speech silence."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from agents.pipeline.vad import SAMPLE_RATE, WINDOW, VadFrame


@dataclass(frozen=True, slots=True)
class TurnConfig:
    start_threshold: float = 0.5
    # Hysteresis: once speaking, only frames below this count as silence, so soft word
    # endings do not end the turn.
    end_threshold: float = 0.35
    min_speech_ms: int = 96  # shorter blips (clicks, coughs) are not a turn
    end_silence_ms: int = 600  # silence after speech that ends the caller's turn
    pre_roll_ms: int = 192  # audio kept from before the start, so first phonemes survive
    max_turn_ms: int = 30_000  # Whisper's window: a longer turn is cut here

    def __post_init__(self) -> None:
        if not 0 < self.end_threshold <= self.start_threshold < 1:
            raise ValueError("need 0 < end_threshold <= start_threshold < 1")
        if min(self.min_speech_ms, self.end_silence_ms, self.max_turn_ms) <= 0:
            raise ValueError("durations must be positive")


@dataclass(frozen=True, slots=True)
class TurnStarted:
    start_s: float


@dataclass(frozen=True, slots=True)
class TurnEnded:
    start_s: float
    end_s: float  # where speech stopped (before the end-of-speech silence)
    detected_s: float  # stream time when the silence was long enough to decide
    audio: np.ndarray = field(repr=False)


TurnEvent = TurnStarted | TurnEnded


def _frames(ms: int) -> int:
    return max(1, round(ms * SAMPLE_RATE / 1000 / WINDOW))


class TurnDetector:
    """Feed VAD frames in order; returns ``TurnStarted`` when speech has lasted
    ``min_speech_ms`` and ``TurnEnded`` (with the turn's audio) after ``end_silence_ms``
    of silence."""

    def __init__(self, config: TurnConfig | None = None) -> None:
        self.config = config or TurnConfig()
        self._pre_roll: list[VadFrame] = []
        self._candidate: list[VadFrame] = []
        self._turn: list[VadFrame] = []
        self._silent = 0
        self._speaking = False
        self._last_voiced_end = 0.0

    @property
    def speaking(self) -> bool:
        return self._speaking

    @property
    def silence_ms(self) -> int:
        """Trailing silence inside the current turn (0 when not in a turn)."""
        return self._silent * WINDOW * 1000 // SAMPLE_RATE if self._speaking else 0

    @property
    def last_voiced_end_s(self) -> float:
        return self._last_voiced_end

    def feed(self, frames: list[VadFrame]) -> list[TurnEvent]:
        events: list[TurnEvent] = []
        for frame in frames:
            event = self._step(frame)
            if event is not None:
                events.append(event)
        return events

    def _step(self, frame: VadFrame) -> TurnEvent | None:
        c = self.config
        if not self._speaking:
            if frame.probability >= c.start_threshold:
                self._candidate.append(frame)
                if len(self._candidate) >= _frames(c.min_speech_ms):
                    self._speaking = True
                    self._turn = [*self._pre_roll, *self._candidate]
                    self._last_voiced_end = frame.start_s + WINDOW / SAMPLE_RATE
                    self._silent = 0
                    start = self._candidate[0].start_s
                    self._candidate, self._pre_roll = [], []
                    return TurnStarted(start_s=start)
                return None
            self._pre_roll = [*self._pre_roll, *self._candidate, frame][-_frames(c.pre_roll_ms) :]
            self._candidate = []
            return None
        self._turn.append(frame)
        if frame.probability < c.end_threshold:
            self._silent += 1
        else:
            self._silent = 0
            self._last_voiced_end = frame.start_s + WINDOW / SAMPLE_RATE
        too_long = len(self._turn) >= _frames(c.max_turn_ms)
        if self._silent >= _frames(c.end_silence_ms) or too_long:
            return self._end(detected_s=frame.start_s + WINDOW / SAMPLE_RATE)
        return None

    def _end(self, *, detected_s: float) -> TurnEnded:
        turn = self._turn
        ended = TurnEnded(
            start_s=turn[0].start_s,
            end_s=self._last_voiced_end,
            detected_s=detected_s,
            audio=np.concatenate([f.samples for f in turn]),
        )
        self._speaking, self._turn, self._silent = False, [], 0
        return ended

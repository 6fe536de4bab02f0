"""Telephone audio: G.711 μ-law codec, 8 kHz ↔ 16 kHz streaming resamplers, gap filling.

The codec is table-driven: both tables are computed once, vectorised, from the G.711
μ-law definition (the segment/quantisation form of Sun's reference g711.c, which CPython's
audioop also follows), and every conversion is a single numpy fancy-index.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import soxr

TELEPHONE_RATE = 8000
PIPELINE_RATE = 16000
FRAME_MS = 20
FRAME_SAMPLES = TELEPHONE_RATE * FRAME_MS // 1000  # 160 μ-law bytes per Twilio frame
ULAW_SILENCE = 0xFF  # decodes to 0

_BIAS = 0x84
_CLIP14 = 8159
_SEGMENT_ENDS14 = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF])

Pcm = npt.NDArray[np.int16]


def _build_decode_table() -> Pcm:
    code = ~np.arange(256, dtype=np.int32) & 0xFF
    exponent = (code >> 4) & 0x07
    mantissa = code & 0x0F
    magnitude = (((mantissa << 3) + _BIAS) << exponent) - _BIAS
    return np.where(code & 0x80, -magnitude, magnitude).astype(np.int16)


def _build_encode_table() -> npt.NDArray[np.uint8]:
    # Index by the int16 sample reinterpreted as uint16 (0..65535). The reference works on
    # 14-bit magnitudes: shift, clip, bias, find the segment, keep 4 mantissa bits.
    pcm = np.arange(65536, dtype=np.int32)
    pcm = np.where(pcm >= 32768, pcm - 65536, pcm) >> 2
    mask = np.where(pcm < 0, 0x7F, 0xFF)
    magnitude = np.minimum(np.abs(pcm), _CLIP14) + (_BIAS >> 2)
    segment = np.searchsorted(_SEGMENT_ENDS14, magnitude)  # first segment end >= magnitude
    mantissa = (magnitude >> (segment + 1)) & 0x0F
    code = np.where(segment >= 8, 0x7F, (segment << 4) | mantissa) ^ mask
    return code.astype(np.uint8)


_DECODE = _build_decode_table()
_ENCODE = _build_encode_table()


def ulaw_decode(data: bytes) -> Pcm:
    """μ-law bytes → int16 PCM."""
    return _DECODE[np.frombuffer(data, dtype=np.uint8)]


def ulaw_encode(pcm: Pcm) -> bytes:
    """int16 PCM → μ-law bytes."""
    return _ENCODE[np.ascontiguousarray(pcm, dtype=np.int16).view(np.uint16)].tobytes()


class StreamResampler:
    """Per-call streaming resampler for the inbound path (caller → pipeline).

    It keeps state across 20 ms frames, so frame boundaries add no clicks. soxr's filtered
    qualities (LQ..VHQ) emit output in blocks of 60-110 ms when fed 20 ms frames (measured:
    MQ returns nothing for five frames, then 108 ms at once), which would add that much
    latency to every turn; its quick cubic quality (QQ) returns every frame at once. Caller
    audio is band-limited to 3.4 kHz by the phone network, so upsampling it with a cubic
    interpolator loses nothing the ASR uses. The outbound path resamples whole chunks
    instead (``resample_once``)."""

    def __init__(self, *, in_rate: int, out_rate: int, quality: str = "QQ") -> None:
        self.in_rate = in_rate
        self.out_rate = out_rate
        self._stream = soxr.ResampleStream(in_rate, out_rate, 1, dtype="int16", quality=quality)

    def process(self, pcm: Pcm, *, last: bool = False) -> Pcm:
        if self.in_rate == self.out_rate:
            return pcm
        out: Pcm = self._stream.resample_chunk(pcm, last=last)
        return out


def resample_once(pcm: Pcm, *, in_rate: int, out_rate: int) -> Pcm:
    """Whole-buffer resampling (agent chunks, WAV files) with soxr's HQ filter, which
    keeps 4-8 kHz TTS energy from aliasing into the telephone band."""
    if in_rate == out_rate:
        return pcm
    out: Pcm = soxr.resample(pcm, in_rate, out_rate, quality="HQ")
    return out


@dataclass(slots=True)
class GapFill:
    """What to insert before a frame: silence samples and how many frames were lost."""

    silence_samples: int
    lost_frames: int


class GapTracker:
    """Detects missing inbound frames from Twilio's ``chunk`` and ``timestamp``.

    ``timestamp`` is milliseconds since the stream started; ``chunk`` counts frames from 1.
    A frame whose timestamp lies beyond the end of the previous one means audio went missing
    on the way: the gap is filled with silence so that the pipeline's clock stays aligned
    with the caller's, and counted as loss.
    """

    def __init__(self) -> None:
        self._next_ms: int | None = None
        self._last_chunk: int | None = None
        self.lost_frames = 0
        self.silence_ms = 0

    def observe(self, *, chunk: int, timestamp_ms: int, samples: int) -> GapFill:
        duration_ms = samples * 1000 // TELEPHONE_RATE
        fill = GapFill(silence_samples=0, lost_frames=0)
        if self._next_ms is not None and timestamp_ms > self._next_ms:
            gap_ms = timestamp_ms - self._next_ms
            # Jitter of a millisecond or two is not loss; a whole frame's worth is.
            if gap_ms >= FRAME_MS // 2:
                fill.silence_samples = gap_ms * TELEPHONE_RATE // 1000
                self.silence_ms += gap_ms
        if self._last_chunk is not None and chunk > self._last_chunk + 1:
            fill.lost_frames = chunk - self._last_chunk - 1
        elif fill.silence_samples:
            fill.lost_frames = max(1, round(fill.silence_samples / FRAME_SAMPLES))
        self.lost_frames += fill.lost_frames
        self._last_chunk = chunk if self._last_chunk is None else max(self._last_chunk, chunk)
        self._next_ms = max(self._next_ms or 0, timestamp_ms + duration_ms)
        return fill

from __future__ import annotations

import warnings

import numpy as np
import pytest

from calls.audio import (
    FRAME_SAMPLES,
    GapTracker,
    StreamResampler,
    ulaw_decode,
    ulaw_encode,
)

_SEG_END = (0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF)


def reference_encode(sample: int) -> int:
    """G.711 μ-law, scalar, as in Sun's reference g711.c (linear2ulaw)."""
    value = sample >> 2
    if value < 0:
        value, mask = -value, 0x7F
    else:
        mask = 0xFF
    value = min(value, 8159) + 33
    segment = next((i for i, end in enumerate(_SEG_END) if value <= end), 8)
    if segment >= 8:
        return 0x7F ^ mask
    return ((segment << 4) | ((value >> (segment + 1)) & 0xF)) ^ mask


def reference_decode(code: int) -> int:
    """G.711 μ-law, scalar, as in Sun's reference g711.c (ulaw2linear)."""
    code = ~code & 0xFF
    t = (((code & 0x0F) << 3) + 0x84) << ((code & 0x70) >> 4)
    return 0x84 - t if code & 0x80 else t - 0x84


def test_decode_matches_the_reference_for_every_code():
    decoded = ulaw_decode(bytes(range(256)))
    assert decoded.dtype == np.int16
    assert decoded.tolist() == [reference_decode(c) for c in range(256)]


def test_encode_matches_the_reference_for_every_16_bit_sample():
    samples = np.arange(-32768, 32768, dtype=np.int16)
    expected = bytes(reference_encode(int(s)) for s in samples)
    assert ulaw_encode(samples) == expected


def test_codec_agrees_with_cpython_audioop_where_it_still_exists():
    audioop = pytest.importorskip("audioop")  # removed in Python 3.13
    samples = np.arange(-32768, 32768, dtype=np.int16)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        assert ulaw_encode(samples) == audioop.lin2ulaw(samples.tobytes(), 2)
        assert ulaw_decode(bytes(range(256))).tobytes() == audioop.ulaw2lin(bytes(range(256)), 2)


def test_known_vectors():
    # -1 lands in the first negative step (0x7E), not on negative zero (0x7F).
    assert ulaw_encode(np.array([0, -1, 32767, -32768, 1000], dtype=np.int16)) == bytes(
        [0xFF, 0x7E, 0x80, 0x00, 0xCE]
    )
    assert ulaw_decode(bytes([0xFF, 0x7F, 0x80, 0x00, 0xCE])).tolist() == [0, 0, 32124, -32124, 988]


def test_round_trip_is_stable_after_one_pass():
    once = ulaw_decode(ulaw_encode(np.arange(-32768, 32768, 7, dtype=np.int16)))
    assert ulaw_decode(ulaw_encode(once)).tolist() == once.tolist()


def test_streaming_resampler_keeps_rate_across_frames_and_preserves_a_tone():
    up = StreamResampler(in_rate=8000, out_rate=16000)
    t = np.arange(8000) / 8000
    tone = (8000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
    out = np.concatenate([up.process(tone[i : i + 160]) for i in range(0, 8000, 160)])
    out = np.concatenate([out, up.process(np.zeros(0, dtype=np.int16), last=True)])
    assert len(out) == 16000
    spectrum = np.abs(np.fft.rfft(out.astype(float)))
    assert abs(np.argmax(spectrum) * 16000 / len(out) - 440) < 2


def test_gap_tracker_fills_missing_frames_with_silence_and_counts_them():
    gaps = GapTracker()
    assert gaps.observe(chunk=1, timestamp_ms=0, samples=FRAME_SAMPLES).silence_samples == 0
    assert gaps.observe(chunk=2, timestamp_ms=20, samples=FRAME_SAMPLES).lost_frames == 0
    fill = gaps.observe(chunk=5, timestamp_ms=80, samples=FRAME_SAMPLES)
    assert (fill.silence_samples, fill.lost_frames) == (2 * FRAME_SAMPLES, 2)
    assert (gaps.lost_frames, gaps.silence_ms) == (2, 40)


def test_gap_tracker_ignores_a_millisecond_of_jitter():
    gaps = GapTracker()
    gaps.observe(chunk=1, timestamp_ms=0, samples=FRAME_SAMPLES)
    fill = gaps.observe(chunk=2, timestamp_ms=21, samples=FRAME_SAMPLES)
    assert (fill.silence_samples, fill.lost_frames, gaps.lost_frames) == (0, 0, 0)

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from inference.audio import (
    AudioFormatError,
    Pcm,
    float_to_pcm16,
    mulaw_decode,
    mulaw_encode,
    pcm16_to_float,
    read_wav,
    through_phone_line,
    write_wav,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop  # the reference G.711 implementation, until Python 3.13 removes it


def test_mulaw_matches_the_reference_codec_for_every_16_bit_sample():
    every = np.arange(-32768, 32768, dtype=np.int32)
    ours = mulaw_encode(every.astype(np.float32) / 32768.0)
    assert ours == audioop.lin2ulaw(every.astype("<i2").tobytes(), 2)
    codes = bytes(range(256))
    assert float_to_pcm16(mulaw_decode(codes)) == audioop.ulaw2lin(codes, 2)


def test_phone_line_keeps_length_and_speech_band(tmp_path: Path):
    t = np.arange(16000) / 16000
    tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    line = through_phone_line(Pcm(samples=tone, sample_rate=16000))
    assert len(line.samples) == len(tone)
    assert np.corrcoef(tone[100:-100], line.samples[100:-100])[0, 1] > 0.99


def test_wav_round_trip_and_bad_files(tmp_path: Path):
    path = tmp_path / "a.wav"
    write_wav(path, Pcm(samples=np.linspace(-0.5, 0.5, 800, dtype=np.float32), sample_rate=8000))
    pcm = read_wav(path)
    assert pcm.sample_rate == 8000
    assert len(pcm.samples) == 800
    (tmp_path / "b.wav").write_bytes(b"not a wav at all")
    with pytest.raises(AudioFormatError, match="not a PCM WAV"):
        read_wav(tmp_path / "b.wav")
    with pytest.raises(AudioFormatError, match="no such file"):
        read_wav(tmp_path / "missing.wav")
    with pytest.raises(AudioFormatError, match="odd number of bytes"):
        pcm16_to_float(b"\x00\x01\x02")


def test_leading_silence_is_trimmed_to_a_short_margin_and_silence_alone_is_kept():
    from inference.audio import trim_leading_silence

    rate = 16_000
    quiet = np.full(800, 0.001, dtype=np.float32)  # 50 ms below -50 dBFS
    tone = np.sin(np.arange(1600) / 5).astype(np.float32) * 0.5
    trimmed = trim_leading_silence(np.concatenate([quiet, tone]), rate)
    assert len(trimmed) == 160 + 1600 - 1  # 10 ms kept before the first loud sample
    assert np.array_equal(trimmed[-1600 + 1 :], tone[1:])
    assert np.array_equal(trim_leading_silence(quiet, rate), quiet)
    assert np.array_equal(trim_leading_silence(tone, rate), tone)

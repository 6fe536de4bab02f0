"""Audio helpers for the inference service: PCM16 conversions, WAV reading, resampling and
the G.711 μ-law codec a phone line applies.

The μ-law codec is written here (a few lines of numpy) rather than taken from `audioop`,
which Python 3.13 removes, so the telephony path and the benchmarks share one tested
implementation (ADR 0005).
"""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soxr

from calls.audio import ulaw_decode, ulaw_encode

ASR_SAMPLE_RATE = 16_000
PHONE_SAMPLE_RATE = 8_000


class AudioFormatError(ValueError):
    """Audio input is not what the caller promised; the message says what is wrong."""


@dataclass(frozen=True, slots=True)
class Pcm:
    samples: np.ndarray  # float32 in [-1, 1], mono
    sample_rate: int

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate


def trim_leading_silence(
    samples: np.ndarray, sample_rate: int, *, threshold: float = 0.003, keep_s: float = 0.01
) -> np.ndarray:
    """Drop the near-silence (below ``threshold``, about -50 dBFS) before the first sound,
    keeping ``keep_s`` of it. Piper starts every utterance with 35-55 ms of it: dead air
    the caller waits through before the reply's first word. All-quiet audio is kept."""
    loud = np.flatnonzero(np.abs(samples) > threshold)
    if not len(loud):
        return samples
    return samples[max(0, int(loud[0]) - int(keep_s * sample_rate)) :]


def pcm16_to_float(data: bytes) -> np.ndarray:
    """Little-endian signed 16-bit PCM bytes to float32 in [-1, 1)."""
    if len(data) % 2:
        raise AudioFormatError(f"PCM16 data has an odd number of bytes ({len(data)})")
    return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0


def float_to_pcm16(samples: np.ndarray) -> bytes:
    clipped = np.clip(samples, -1.0, 32767.0 / 32768.0)
    return (clipped * 32768.0).round().astype("<i2").tobytes()


def resample(samples: np.ndarray, *, from_rate: int, to_rate: int) -> np.ndarray:
    if from_rate == to_rate:
        return samples.astype(np.float32, copy=False)
    return np.asarray(soxr.resample(samples, from_rate, to_rate), dtype=np.float32)


def read_wav(path: Path) -> Pcm:
    """Read a PCM WAV file as mono float32; raise AudioFormatError for anything else."""
    if not path.is_file():
        raise AudioFormatError(f"{path}: no such file")
    try:
        with wave.open(str(path), "rb") as wav:
            channels = wav.getnchannels()
            width = wav.getsampwidth()
            rate = wav.getframerate()
            frames = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError) as exc:
        raise AudioFormatError(f"{path}: not a PCM WAV file ({exc})") from exc
    if width != 2:
        raise AudioFormatError(f"{path}: {8 * width}-bit samples; only 16-bit PCM is read")
    if not 8_000 <= rate <= 48_000:
        raise AudioFormatError(f"{path}: sample rate {rate} Hz is outside 8000-48000")
    samples = pcm16_to_float(frames)
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1).astype(np.float32)
    return Pcm(samples=samples, sample_rate=rate)


def write_wav(path: Path, pcm: Pcm) -> None:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(pcm.sample_rate)
        wav.writeframes(float_to_pcm16(pcm.samples))


def mulaw_encode(samples: np.ndarray) -> bytes:
    """G.711 μ-law: float32 [-1, 1] to one byte per sample (as Twilio sends).

    The codec itself is calls.audio's (table-driven, bit-exact with the ITU reference);
    this adapts the float samples the inference service works in.
    """
    pcm = np.clip((samples * 32768.0).round(), -32768, 32767).astype(np.int16)
    return ulaw_encode(pcm)


def mulaw_decode(data: bytes) -> np.ndarray:
    """G.711 μ-law bytes to float32 [-1, 1]."""
    return (ulaw_decode(data).astype(np.float32) / 32768.0).astype(np.float32)


def through_phone_line(pcm: Pcm) -> Pcm:
    """What a caller's audio looks like after the phone network: 8 kHz μ-law, back at the
    original rate."""
    narrow = resample(pcm.samples, from_rate=pcm.sample_rate, to_rate=PHONE_SAMPLE_RATE)
    decoded = mulaw_decode(mulaw_encode(narrow))
    return Pcm(
        samples=resample(decoded, from_rate=PHONE_SAMPLE_RATE, to_rate=pcm.sample_rate),
        sample_rate=pcm.sample_rate,
    )

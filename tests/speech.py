"""Real speech for tests and benchmarks: Debian's pocketsphinx-testdata LibriVox clips (16 kHz
PCM with transcripts) and espeak-ng."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import numpy as np

from inference.audio import ASR_SAMPLE_RATE, read_wav, resample

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")


def librivox_clips() -> list[tuple[Path, str]]:
    """(wav, reference transcript) for every clip, in file order."""
    refs: list[tuple[Path, str]] = []
    for line in (LIBRIVOX / "transcription").read_text().splitlines():
        text, _, rest = line.rpartition("(")
        words = text.replace("<s>", "").replace("</s>", "").split()
        refs.append((LIBRIVOX / f"{rest.rstrip(') ')}.wav", " ".join(words)))
    return refs


def librivox(name_suffix: str) -> np.ndarray:
    return read_wav(LIBRIVOX / f"sense_and_sensibility_01_austen_64kb-{name_suffix}.wav").samples


def espeak(text: str) -> np.ndarray:
    """``text`` spoken by espeak-ng, as 16 kHz float32."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "speech.wav"
        subprocess.run(["espeak-ng", "-w", str(path), text], check=True, capture_output=True)
        pcm = read_wav(path)
    return resample(pcm.samples, from_rate=pcm.sample_rate, to_rate=ASR_SAMPLE_RATE)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * ASR_SAMPLE_RATE), dtype=np.float32)


def caller_audio(*parts: tuple[float, str | None]) -> np.ndarray:
    """(seconds of silence before, sentence or None) pieces → 8 kHz int16 phone audio."""
    from calls.audio import TELEPHONE_RATE, resample_once

    pieces = []
    for pause, sentence in parts:
        pieces.append(np.zeros(int(pause * TELEPHONE_RATE), dtype=np.int16))
        if sentence:
            speech = (espeak(sentence) * 20000).astype(np.int16)
            pieces.append(resample_once(speech, in_rate=ASR_SAMPLE_RATE, out_rate=TELEPHONE_RATE))
    return np.concatenate(pieces)

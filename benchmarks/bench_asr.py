"""ASR accuracy and speed through the phone line (8 kHz μ-law) against the peer: the same
model on the clean 16 kHz audio, measured in the same run.

Clips: Debian pocketsphinx-testdata's LibriVox recordings with their transcripts. WER by
jiwer after the same normalisation of hypothesis and reference (lower case, no
punctuation, spoken forms for the abbreviations Whisper writes: "Mr." -> "mister").

Then the encoder window (``INFERENCE_ASR_WINDOW_S``, docs/adr/0005): the service's 10 s
floor against Whisper's 30 s, greedy, on the phone-line clips and on espeak-ng callers (the
voice bench's questions and short consent answers, whose first word decides a refusal).
"""

from __future__ import annotations

import itertools
import re
import time
from pathlib import Path

import jiwer
import numpy as np

from benchmarks.bench_voice_agent import QUESTIONS
from inference.asr import WINDOW_S, AsrEngine, load_asr_engines
from inference.audio import ASR_SAMPLE_RATE, Pcm, read_wav, through_phone_line
from tests.speech import espeak, librivox_clips, silence

SPOKEN = {"mr": "mister", "mrs": "missus", "dr": "doctor", "st": "saint"}
TARGET_WER = 0.10
ANSWERS = [
    "No.",
    "Yes.",
    "No, where can I park my car?",
    "Yes, what are your opening hours?",
    "No, I don't agree.",
    "Yes, that's fine.",
    "No thanks.",
    "Yes please.",
    "No, I do not consent.",
    "Sure, go ahead.",
    "No, don't record me.",
    "Okay.",
]


def normalise(text: str) -> str:
    words = re.sub(r"[^a-z0-9' ]", " ", text.lower().replace("-", " ")).split()
    return " ".join(SPOKEN.get(w, w) for w in words)


def measure(
    engine: AsrEngine, clips: list[tuple[Pcm, str]], beam: int, fallback: bool
) -> tuple[float, float, list[str]]:
    """WER, real-time factor and the normalised hypotheses."""
    refs, hyps, audio_s, compute_s = [], [], 0.0, 0.0
    for pcm, ref in clips:
        started = time.perf_counter()
        text = engine.transcribe(pcm.samples, language="en", beam_size=beam, fallback=fallback).text
        hyps.append(normalise(text))
        compute_s += time.perf_counter() - started
        audio_s += pcm.duration_s
        refs.append(normalise(ref))
    return float(jiwer.wer(refs, hyps)), compute_s / audio_s, hyps


def _engines(window_s: float) -> dict[str, AsrEngine]:
    return load_asr_engines(
        region="bench",
        names=("tiny.en", "base"),
        cache_dir=Path("var/models"),
        cpu_threads=2,
        num_workers=1,
        window_s=window_s,
    )


def main() -> int:
    clips = [(read_wav(path), ref) for path, ref in librivox_clips()]
    phone = [(through_phone_line(pcm), ref) for pcm, ref in clips]
    total_s = sum(p.duration_s for p, _ in clips)
    print(
        f"{len(clips)} LibriVox clips, {total_s:.1f} s of speech; int8 on CPU; greedy without "
        "temperature fallback is the service's default for finals (INFERENCE_ASR_BEAM, "
        "INFERENCE_ASR_FALLBACK), beam 5 with fallback is Whisper's"
    )
    engines = _engines(WINDOW_S)
    failures = 0
    columns = ("WER phone", "WER clean", "ratio", "RTF phone", "RTF clean")
    print(f"{'model':8} {'decoding':>14} " + " ".join(f"{c:>10}" for c in columns))
    for (name, engine), (beam, fallback) in itertools.product(
        engines.items(), ((1, False), (5, True))
    ):
        engine.transcribe(clips[0][0].samples, language="en")  # warm-up
        phone_wer, phone_rtf, _ = measure(engine, phone, beam, fallback)
        clean_wer, clean_rtf, _ = measure(engine, clips, beam, fallback)
        decoding = "greedy" if beam == 1 else f"beam {beam}+fallback"
        ratio = phone_wer / clean_wer if clean_wer else float("inf") if phone_wer else 1.0
        print(
            f"{name:8} {decoding:>14} {phone_wer:10.1%} {clean_wer:10.1%} {ratio:10.2f} "
            f"{phone_rtf:10.3f} {clean_rtf:10.3f}"
        )
        if name == "base" and phone_wer > TARGET_WER:
            print(f"FAIL: base WER through the phone line {phone_wer:.1%} > {TARGET_WER:.0%}")
            failures += 1
    compare_windows(phone, engines)
    return failures


def compare_windows(phone: list[tuple[Pcm, str]], service: dict[str, AsrEngine]) -> None:
    """WER, first-word errors and speed with the service's encoder window (``service``, the
    engines already loaded) and Whisper's."""
    lead, tail = silence(0.192), silence(0.3)
    spoken = [
        # As the agent sends a turn: the VAD's 192 ms pre-roll before the words, the
        # peek's 0.3 s of silence after them.
        (through_phone_line(Pcm(np.concatenate([lead, espeak(text), tail]), ASR_SAMPLE_RATE)), text)
        for text in [*ANSWERS, *QUESTIONS]
    ]
    print(
        f"encoder window: {len(phone)} LibriVox clips and {len(spoken)} espeak-ng callers "
        "through the phone line, greedy"
    )
    columns = ("WER clips", "WER espeak", "1st word", "RTF clips")
    print(f"{'model':8} {'window':>8} " + " ".join(f"{c:>10}" for c in columns))
    for window_s, engines in ((WINDOW_S, service), (30.0, _engines(30.0))):
        for name, engine in engines.items():
            engine.transcribe(phone[0][0].samples, language="en", beam_size=1, fallback=False)
            clips_wer, clips_rtf, _ = measure(engine, phone, 1, False)
            spoken_wer, _, hyps = measure(engine, spoken, 1, False)
            wrong = [
                f"{ref!r} -> {hyp!r}"
                for (_, ref), hyp in zip(spoken, hyps, strict=True)
                if normalise(ref).split()[:1] != hyp.split()[:1]
            ]
            print(
                f"{name:8} {window_s:7.0f}s {clips_wer:10.1%} {spoken_wer:10.1%} "
                f"{f'{len(wrong)}/{len(spoken)}':>10} {clips_rtf:10.3f}"
            )
            for line in wrong:
                print(f"{'':18}first word: {line}")

"""``python manage.py transcribe FILE.wav [--model tiny.en|base] [--phone-line]``: print the
transcript of a WAV file, optionally after an 8 kHz μ-law phone line. Runs the model in
this process (no inference service needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from inference.asr import ASR_MODELS, MAX_UTTERANCE_S, load_asr_engines
from inference.assets import ModelMissing
from inference.audio import (
    ASR_SAMPLE_RATE,
    AudioFormatError,
    read_wav,
    resample,
    through_phone_line,
)


class Command(BaseCommand):
    help = "Print the transcript of a WAV file (16-bit PCM, 8-48 kHz)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--model", choices=ASR_MODELS, default="tiny.en")
        parser.add_argument(
            "--phone-line", action="store_true", help="pass the audio through 8 kHz μ-law first"
        )
        parser.add_argument("--language", default=None, help="e.g. en, de (base model only)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            pcm = read_wav(options["file"])
        except AudioFormatError as exc:
            raise CommandError(str(exc)) from exc
        if options["phone_line"]:
            pcm = through_phone_line(pcm)
        samples = resample(pcm.samples, from_rate=pcm.sample_rate, to_rate=ASR_SAMPLE_RATE)
        if len(samples) == 0:
            raise CommandError(f"{options['file']}: the file has no audio")
        try:
            engine = load_asr_engines(
                region="local",
                names=(options["model"],),
                cache_dir=settings.VAR_DIR / "models",
                cpu_threads=2,
                num_workers=1,
            )[options["model"]]
        except ModelMissing as exc:
            raise CommandError(str(exc)) from exc
        window = int(MAX_UTTERANCE_S * ASR_SAMPLE_RATE)
        texts = [
            engine.transcribe(samples[i : i + window], language=options["language"]).text
            for i in range(0, len(samples), window)
        ]
        self.stdout.write(" ".join(t for t in texts if t))

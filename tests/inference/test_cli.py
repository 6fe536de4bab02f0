from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request

import pytest

from callseal.at_rest import secrets_dir_for
from callseal.secretfiles import generated_secret
from tests.inference.conftest import free_port


def test_unknown_region_is_a_clear_error():
    result = subprocess.run(
        [sys.executable, "-m", "inference", "serve", "--region", "mars"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "'mars' is not one of us, eu" in result.stderr


@pytest.mark.slow
def test_serve_starts_with_warm_models_and_answers_healthz(tmp_path):
    port = free_port()
    env = {**os.environ, "INFERENCE_ASR_MODELS": "tiny.en", "CALLSEAL_VAR_DIR": str(tmp_path)}
    argv = [sys.executable, "-m", "inference", "serve", "--region", "eu", "--port", str(port)]
    server = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                # The region's token, generated into the secrets dir (the service's too).
                token = generated_secret(secrets_dir_for(tmp_path), "region-eu-inference-token")
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/healthz",
                    headers={"Authorization": f"Bearer {token}"},
                )
                with urllib.request.urlopen(request) as r:  # noqa: S310 - loopback
                    health = json.load(r)
                break
            except OSError:
                assert server.poll() is None
                assert time.monotonic() < deadline
                time.sleep(0.5)
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert health["region"] == "eu"
    assert list(health["models"]["asr"]) == ["tiny.en"]
    assert health["models"]["asr"]["tiny.en"]["engine"] == "faster-whisper==1.2.1"

"""Piper's onnxruntime session: the region's thread count, and threads that sleep rather
than spin when idle (they would take the cores from the LLM server next to it)."""

from __future__ import annotations

import numpy as np
import pytest

from inference import assets
from inference.tts import PiperEngine


@pytest.mark.slow
def test_piper_session_does_not_spin_and_still_speaks():
    engine = PiperEngine(assets.piper_voice(region="us", voice="en_US-joe-medium"), cpu_threads=1)
    options = engine._voice.session.get_session_options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert options.intra_op_num_threads == 1
    audio = np.concatenate(list(engine.synthesize("Your appointment is on Tuesday at ten.")))
    seconds = len(audio) / engine.sample_rate
    assert engine.sample_rate == 22050
    assert 1.0 < seconds < 5.0
    assert float(np.abs(audio).max()) > 0.1

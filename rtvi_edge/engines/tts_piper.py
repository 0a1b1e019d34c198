"""Piper text-to-speech (VITS on onnxruntime), one audio piece per sentence."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from rtvi_edge.errors import EngineError, ModelNotFoundError

if TYPE_CHECKING:
    import onnxruntime
    from piper import PiperConfig


def _session(voice_path: Path) -> onnxruntime.InferenceSession:
    """The voice's ONNX session without ONNX Runtime's memory arena: the arena keeps
    the memory of the longest piece ever synthesised (RSS grew for half an hour in
    the soak); without it a 4-word first piece is as fast (40 ms) and a 25-word
    one ~20 % slower, still ~30x faster than it plays. ~130 MiB less resident."""
    import onnxruntime

    opts = onnxruntime.SessionOptions()
    opts.enable_cpu_mem_arena = False
    opts.log_severity_level = 3
    try:
        return onnxruntime.InferenceSession(
            str(voice_path), sess_options=opts, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # onnxruntime raises its own untyped errors
        raise EngineError(f"cannot load the Piper voice {voice_path}: {exc}") from exc


def _voice_config(config_path: Path) -> PiperConfig:
    from piper import PiperConfig

    try:
        return PiperConfig.from_dict(json.loads(config_path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise EngineError(f"the Piper voice config {config_path} is not valid: {exc}") from exc


class PiperTts:
    name = "piper"

    def __init__(self, voice_path: Path, noise_scale: float, noise_w: float) -> None:
        config_path = voice_path.with_name(voice_path.name + ".json")
        if not voice_path.is_file() or not config_path.is_file():
            raise ModelNotFoundError(
                f"Piper voice not found: need {voice_path} and {config_path} "
                "(download one with `rtvi-edge models pull NAME`; `rtvi-edge models list`)"
            )
        try:
            from piper import PiperVoice, SynthesisConfig
        except ImportError as exc:  # pragma: no cover
            raise EngineError("piper-tts is not installed") from exc
        self._voice = PiperVoice(config=_voice_config(config_path), session=_session(voice_path))
        self._config_cls = SynthesisConfig
        self.sample_rate: int = self._voice.config.sample_rate
        self.model_name = f"piper:{voice_path.stem}"
        self._noise_scale = noise_scale
        self._noise_w = noise_w
        # onnxruntime sessions are thread-safe, but two syntheses at once only
        # slow each other down on a small board.
        self._lock = threading.Lock()

    def synthesize(self, text: str, speed: float) -> Iterator[bytes]:
        syn = self._config_cls(
            length_scale=1.0 / max(speed, 0.05),
            noise_scale=self._noise_scale,
            noise_w_scale=self._noise_w,
        )
        pieces = iter(self._voice.synthesize(text, syn))
        while True:
            with self._lock:  # held per sentence, never across a yield
                chunk = next(pieces, None)
            if chunk is None:
                return
            yield chunk.audio_int16_bytes

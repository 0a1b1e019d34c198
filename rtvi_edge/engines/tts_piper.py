"""Piper text-to-speech (VITS on onnxruntime), one audio piece per sentence."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

from rtvi_edge.errors import EngineError, ModelNotFoundError


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
        self._voice = PiperVoice.load(voice_path, config_path)
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

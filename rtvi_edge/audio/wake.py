"""Wake-word detection with microWakeWord (pymicro-wakeword: TFLite models shipped in
the wheel, its own TFLite runtime, no download)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from rtvi_edge.errors import ConfigError, EngineError

log = logging.getLogger(__name__)

BUILTIN = ("okay_nabu", "hey_jarvis", "hey_mycroft", "alexa")


class WakeWordDetector:
    def __init__(self, model: str, threshold: float = 0.0) -> None:
        try:
            from pymicro_wakeword import MicroWakeWord, MicroWakeWordFeatures, Model
        except ImportError as exc:
            raise EngineError(
                "wake words need pymicro-wakeword (scripts/setup installs it)"
            ) from exc
        if model in BUILTIN:
            self._mww = MicroWakeWord.from_builtin(Model(model))
        elif model.endswith(".json") and Path(model).is_file():
            self._mww = MicroWakeWord.from_config(Path(model))
        else:
            raise ConfigError(
                [
                    f"[wake] model = {model!r}: use one of {', '.join(BUILTIN)} "
                    "or the path of a microWakeWord .json"
                ]
            )
        if threshold > 0:
            self._mww.probability_cutoff = threshold
        self._features = MicroWakeWordFeatures()
        self.name = str(self._mww.wake_word)

    def process(self, pcm16k: bytes) -> bool:
        """True when the wake word ends in this audio (16 kHz mono s16le)."""
        for features in self._features.process_streaming(pcm16k):
            if self._mww.process_streaming(np.asarray(features)):
                self.reset()
                return True
        return False

    def reset(self) -> None:
        self._mww.reset()
        self._features.reset()


def earcon(rate: int, secs: float = 0.15) -> bytes:
    """A short soft two-tone chime that says "I'm listening"."""
    t = np.arange(int(rate * secs)) / rate
    half = len(t) // 2
    tone = np.concatenate([np.sin(2 * np.pi * 880 * t[:half]), np.sin(2 * np.pi * 1320 * t[half:])])
    fade = np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.01)
    return bytes((tone * fade * 0.25 * 32767).astype(np.int16).tobytes())

"""Mono s16le PCM helpers: resampling and gain (leaf module: numpy and soxr only)."""

from __future__ import annotations

import numpy as np
import soxr


def resample(pcm: bytes, in_rate: int, out_rate: int) -> bytes:
    if in_rate == out_rate or not pcm:
        return pcm
    audio = np.frombuffer(pcm, dtype=np.int16)
    out = soxr.resample(audio, in_rate, out_rate, quality="HQ")
    return np.asarray(out, dtype=np.int16).tobytes()


def apply_gain(pcm: bytes, gain: float) -> bytes:
    if gain == 1.0:
        return pcm
    audio = np.frombuffer(pcm, dtype=np.int16).astype(np.float32) * gain
    return bytes(np.clip(audio, -32768, 32767).astype(np.int16).tobytes())

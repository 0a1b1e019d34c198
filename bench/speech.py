"""Benchmark speech: espeak-ng WAVs, and where their speech ends."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np

from rtvi_edge.audio.wav import read_wav

QUESTIONS = [
    "What is the capital of France?",
    "How many legs does a spider have?",
    "What color is the sky on a clear day?",
    "Name a fruit that is yellow.",
    "What is two plus two?",
]


def make_wav(text: str, path: Path) -> tuple[bytes, float]:
    """16 kHz mono PCM of `text` with silence around it; returns (pcm, speech end in s)."""
    raw = path.with_suffix(".raw.wav")
    subprocess.run(["espeak-ng", "-s", "150", "-w", str(raw), text], check=True)
    subprocess.run(
        ["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(path), "pad", "0.3", "1.5"],
        check=True,
    )
    pcm = read_wav(path, 16000)
    return pcm, speech_end(pcm)


def _loud_blocks(pcm: bytes, rate: int) -> tuple[np.ndarray, int]:
    """Indexes of the 10 ms blocks above -40 dBFS, and the block size."""
    audio = np.frombuffer(pcm, dtype=np.int16).astype(np.float32)
    block = rate // 100
    n = len(audio) // block
    rms = np.sqrt(np.mean(audio[: n * block].reshape(n, block) ** 2, axis=1))
    return np.nonzero(rms > 32768 * 10 ** (-40 / 20))[0], block


def speech_start(pcm: bytes, rate: int = 16000) -> float:
    """The start of the first 10 ms block above -40 dBFS."""
    loud, block = _loud_blocks(pcm, rate)
    return float(loud[0] * block / rate) if loud.size else 0.0


def speech_end(pcm: bytes, rate: int = 16000) -> float:
    """The end of the last 10 ms block above -40 dBFS."""
    loud, block = _loud_blocks(pcm, rate)
    return float((loud[-1] + 1) * block / rate) if loud.size else 0.0

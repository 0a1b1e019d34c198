"""WAV files in and out, converted to what the pipeline wants."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from rtvi_edge.audio.pcm import resample
from rtvi_edge.errors import AudioDeviceError


def read_wav(path: Path, rate: int = 16000) -> bytes:
    """Mono s16le at `rate`, from a PCM WAV of any rate and channel count."""
    try:
        with wave.open(str(path), "rb") as w:
            channels, width, src_rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
            raw = w.readframes(w.getnframes())
    except (OSError, wave.Error, EOFError) as exc:
        raise AudioDeviceError(f"cannot read WAV {path}: {exc}") from exc
    if width == 1:
        audio = (np.frombuffer(raw, np.uint8).astype(np.int16) - 128) << 8
    elif width == 2:
        audio = np.frombuffer(raw, np.int16)
    elif width == 4:
        audio = (np.frombuffer(raw, np.int32) >> 16).astype(np.int16)
    else:
        raise AudioDeviceError(f"{path}: {width * 8}-bit WAV is not supported")
    if channels > 1:
        audio = audio[: len(audio) - len(audio) % channels]
        audio = audio.reshape(-1, channels).mean(axis=1).astype(np.int16)
    return resample(audio.tobytes(), src_rate, rate)


class WavWriter:
    def __init__(self, path: Path, rate: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._w = wave.open(str(path), "wb")  # noqa: SIM115 - open for the writer's life
        self._w.setnchannels(1)
        self._w.setsampwidth(2)
        self._w.setframerate(rate)

    def write(self, pcm: bytes) -> None:
        self._w.writeframes(pcm)

    def close(self) -> None:
        self._w.close()


def write_wav(path: Path, pcm: bytes, rate: int) -> None:
    writer = WavWriter(path, rate)
    writer.write(pcm)
    writer.close()

"""The device's own microphone and speaker: PyAudio, WAV files, or nothing.

A source yields 16 kHz mono s16le frames; a sink is an `AudioSink`. With no
sound card the daemon still runs (RTVI and MQTT), with one clear warning.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

from rtvi_edge.audio.pcm import apply_gain
from rtvi_edge.audio.sink import AudioSink, Pacer
from rtvi_edge.audio.wav import WavWriter, read_wav
from rtvi_edge.config import AudioBackend, AudioConfig
from rtvi_edge.errors import AudioDeviceError

log = logging.getLogger(__name__)


class AudioSource(Protocol):
    def frames(self) -> AsyncIterator[bytes]: ...

    def close(self) -> None: ...


class FileSource:
    """A WAV played as if it were a microphone: in real time, then silence forever."""

    def __init__(self, path: Path, frame_ms: int, realtime: bool = True) -> None:
        self._pcm = read_wav(path, 16000)
        self._frame_bytes = int(16000 * frame_ms / 1000) * 2
        self._realtime = realtime
        self._closed = False
        self.finished = asyncio.Event()

    async def frames(self) -> AsyncIterator[bytes]:
        pacer = Pacer(lead=0.0)
        fb = self._frame_bytes
        offset = 0
        while not self._closed:
            frame = self._pcm[offset : offset + fb]
            offset += fb
            if len(frame) < fb:
                self.finished.set()
                frame = frame + b"\0" * (fb - len(frame))
            if self._realtime:
                await pacer.wait_turn(fb / 2 / 16000)
            yield frame

    def close(self) -> None:
        self._closed = True


class FileSink:
    """Everything the bot says goes into a WAV, paced like a real speaker."""

    def __init__(self, path: Path, sample_rate: int, volume: float = 1.0) -> None:
        self.sample_rate = sample_rate
        self._writer = WavWriter(path, sample_rate)
        self._pacer = Pacer(lead=0.05)
        self.volume = volume

    async def play(self, pcm: bytes) -> None:
        await self._pacer.wait_turn(len(pcm) / 2 / self.sample_rate)
        self._writer.write(apply_gain(pcm, self.volume))

    def buffered(self) -> float:
        return self._pacer.buffered()

    async def discard(self) -> None:
        self._pacer.reset()

    def close(self) -> None:
        self._writer.close()


def open_device(cfg: AudioConfig) -> tuple[AudioSource, AudioSink]:
    """The local source and sink for `[audio] backend`; raises AudioDeviceError."""
    if cfg.backend == AudioBackend.FILE:
        if not cfg.input_file:
            raise AudioDeviceError("[audio] backend = 'file' needs [audio] input_file (a WAV)")
        out = Path(cfg.output_file) if cfg.output_file else Path("rtvi-edge-output.wav")
        return FileSource(Path(cfg.input_file), cfg.frame_ms), FileSink(
            out, cfg.output_rate, cfg.volume
        )
    from rtvi_edge.audio.pyaudio_io import open_pyaudio

    return open_pyaudio(cfg)


def open_local_audio(cfg: AudioConfig) -> tuple[AudioSource, AudioSink] | None:
    """Like `open_device`, but None (with one clear warning) when there is no sound card."""
    if cfg.backend == AudioBackend.NONE:
        log.info("local audio is off ([audio] backend = 'none')")
        return None
    try:
        return open_device(cfg)
    except AudioDeviceError as exc:
        log.warning(
            "no usable sound card, local microphone and speaker are off: %s "
            "(RTVI and MQTT keep working; `rtvi-edge devices` lists devices)",
            exc,
        )
        return None


async def close_quietly(source: AudioSource, sink: AudioSink) -> None:
    source.close()
    close = getattr(sink, "close", None)
    if close is not None:
        with contextlib.suppress(Exception):
            close()

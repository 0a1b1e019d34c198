"""Wake word: `detect` requests answered with the device's microWakeWord models."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from rtvi_edge.audio.wake import BUILTIN, WakeWordDetector
from rtvi_edge.errors import ProtocolError
from rtvi_edge.wyoming_server.audio_in import TARGET_RATE, PcmFormat, ToMono16k
from rtvi_edge.wyoming_server.info import WakeWord

PROCESS_BYTES = 2560  # 80 ms at 16 kHz: detectors run on pieces this big, in a thread


def wake_words(configured: str) -> tuple[WakeWord, ...]:
    """The packaged models, plus the device's own model file if [wake] model names one."""
    words = [WakeWord(m, m.replace("_", " ")) for m in BUILTIN]
    if configured not in BUILTIN and configured.endswith(".json") and Path(configured).is_file():
        try:
            phrase = str(json.loads(Path(configured).read_text("utf-8")).get("wake_word", ""))
        except (OSError, ValueError, AttributeError):
            phrase = ""
        words.append(WakeWord(configured, phrase or Path(configured).stem))
    return tuple(words)


class UnknownWakeWordError(ProtocolError):
    """`detect` named a wake word this device does not have."""


class WakeDetection:
    """One `detect` request: audio in, the names of the wake words heard."""

    def __init__(self, detectors: dict[str, WakeWordDetector], fmt: PcmFormat) -> None:
        self._detectors = detectors
        self.format = fmt
        self._convert = ToMono16k(fmt)
        self._pending = bytearray()
        self._samples = 0
        self._chunk_timestamp: int | None = None
        self.detected = False
        for detector in detectors.values():
            detector.reset()

    async def feed(self, pcm: bytes, timestamp: int | None = None) -> tuple[str, int] | None:
        """(model id, timestamp) when a wake word ends in this audio: the timestamp of
        the client's chunk if it sent one (as other Wyoming wake servers report it),
        else milliseconds into the stream."""
        self._chunk_timestamp = timestamp
        self._pending += self._convert.convert(pcm)
        if len(self._pending) < PROCESS_BYTES:
            return None
        return await self._process()

    async def finish(self) -> tuple[str, int] | None:
        self._pending += self._convert.convert(b"", last=True)
        return await self._process()

    async def _process(self) -> tuple[str, int] | None:
        pcm, self._pending = bytes(self._pending), bytearray()
        self._samples += len(pcm) // 2
        hit = await asyncio.to_thread(self._run, pcm)
        if hit is None:
            return None
        self.detected = True
        if self._chunk_timestamp is not None:
            return hit, self._chunk_timestamp
        return hit, self._samples * 1000 // TARGET_RATE

    def _run(self, pcm: bytes) -> str | None:
        found = None
        for model_id, detector in self._detectors.items():
            if detector.process(pcm) and found is None:
                found = model_id
        return found


class DetectorPool:
    """One connection's loaded detectors, kept across its `detect` requests
    (each holds the state of one stream, so connections never share them)."""

    def __init__(self, offered: tuple[WakeWord, ...], default: str, threshold: float) -> None:
        self._offered = {w.model_id: w for w in offered}
        self._default = default if default in self._offered else BUILTIN[0]
        self._threshold = threshold
        self._loaded: dict[str, WakeWordDetector] = {}

    async def select(self, names: list[str] | None) -> dict[str, WakeWordDetector]:
        wanted = names or [self._default]
        unknown = [n for n in wanted if n not in self._offered]
        if unknown:
            known = ", ".join(self._offered)
            raise UnknownWakeWordError(
                f"unknown wake word {unknown[0][:60]!r} (this device has: {known})"
            )
        for name in wanted:
            if name not in self._loaded:
                self._loaded[name] = await asyncio.to_thread(
                    WakeWordDetector, name, self._threshold
                )
        return {name: self._loaded[name] for name in dict.fromkeys(wanted)}

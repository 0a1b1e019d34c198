"""Speech to text: one `transcribe` request's audio through the device's STT engine."""

from __future__ import annotations

import asyncio

from rtvi_edge.engines.base import SpeechToText, SttStream
from rtvi_edge.errors import ProtocolError
from rtvi_edge.wyoming_server.audio_in import PcmFormat, ToMono16k

FEED_BYTES = 16000  # 0.5 s at 16 kHz: handed to the engine's thread in pieces this big


class AudioTooLongError(ProtocolError):
    """A request sent more audio than `[wyoming] max_audio_secs` allows."""


class Transcription:
    def __init__(self, stream: SttStream, fmt: PcmFormat, max_secs: float) -> None:
        self._stream = stream
        self.format = fmt
        self._convert = ToMono16k(fmt)
        self._max_secs = max_secs
        self._pending = bytearray()

    @classmethod
    async def start(cls, stt: SpeechToText, fmt: PcmFormat, max_secs: float) -> Transcription:
        stream = await asyncio.to_thread(stt.open_stream)
        return cls(stream, fmt, max_secs)

    async def feed(self, pcm: bytes) -> None:
        self._pending += self._convert.convert(pcm)
        if self._convert.seconds_in > self._max_secs:
            raise AudioTooLongError(
                f"more than {self._max_secs:g} s of audio in one transcribe request "
                "([wyoming] max_audio_secs)"
            )
        if len(self._pending) >= FEED_BYTES:
            await self._flush()

    async def finish(self) -> str:
        self._pending += self._convert.convert(b"", last=True)
        await self._flush()
        text = await asyncio.to_thread(self._stream.finish)
        return " ".join(text.split())

    async def _flush(self) -> None:
        if self._pending:
            pcm, self._pending = bytes(self._pending), bytearray()
            await asyncio.to_thread(self._stream.feed, pcm)

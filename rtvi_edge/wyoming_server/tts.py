"""Text to speech: `synthesize` (whole text) and `synthesize-start/chunk/stop` (streamed
text) through the device's TTS engine, sent back as audio-start, audio-chunk…, audio-stop."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event

from rtvi_edge.engines.base import TextToSpeech
from rtvi_edge.engines.threads import iterate_in_thread
from rtvi_edge.errors import ProtocolError
from rtvi_edge.pipeline.chunker import TextChunker

CHUNK_SECS = 0.1  # audio-chunk size sent to the client
Send = Callable[[Event], Awaitable[None]]


class TextTooLongError(ProtocolError):
    """More text than `[wyoming] max_text_chars` in one request."""


class SpeechOut:
    """One spoken answer: audio-start once, then audio chunks as each sentence is
    synthesised, then audio-stop."""

    def __init__(self, tts: TextToSpeech, speed: float, send: Send, max_chars: int) -> None:
        self._tts = tts
        self._speed = speed
        self._send = send
        self._max_chars = max_chars
        self._chars = 0
        self._started = False
        self._ended = False
        self._chunker = TextChunker(first_chunk_words=4)

    async def speak(self, text: str) -> None:
        """All of `text` now."""
        self._count(text)
        for piece in self._chunker.push(text + " ") + self._chunker.flush():
            await self._synthesize(piece)

    async def push(self, text: str) -> None:
        """Part of a streamed text: whole sentences are spoken as they complete."""
        self._count(text)
        for piece in self._chunker.push(text):
            await self._synthesize(piece)

    async def finish(self) -> None:
        for piece in self._chunker.flush():
            await self._synthesize(piece)
        await self._start()
        await self.end_audio()

    async def end_audio(self) -> None:
        """audio-stop, once, if audio-start went out: after a failure too, so a client
        reading up to audio-stop is not left waiting."""
        if self._started and not self._ended:
            self._ended = True
            await self._send(AudioStop().event())

    def _count(self, text: str) -> None:
        self._chars += len(text)
        if self._chars > self._max_chars:
            raise TextTooLongError(
                f"more than {self._max_chars} characters to speak in one request "
                "([wyoming] max_text_chars)"
            )

    async def _start(self) -> None:
        if not self._started:
            self._started = True
            await self._send(AudioStart(rate=self._tts.sample_rate, width=2, channels=1).event())

    async def _synthesize(self, text: str) -> None:
        rate = self._tts.sample_rate
        step = max(2, int(rate * CHUNK_SECS) * 2)
        await self._start()
        pieces = iterate_in_thread(lambda: self._tts.synthesize(text, self._speed))
        try:
            async for pcm in pieces:
                for i in range(0, len(pcm), step):
                    chunk = AudioChunk(rate=rate, width=2, channels=1, audio=pcm[i : i + step])
                    await self._send(chunk.event())
        finally:
            await pieces.aclose()  # type: ignore[attr-defined]  # frees the engine's thread

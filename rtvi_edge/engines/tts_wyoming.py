"""Text-to-speech on a Wyoming server (wyoming-piper and friends), streamed: each
audio-chunk is handed on as it arrives."""

from __future__ import annotations

from collections.abc import Iterator

from rtvi_edge.engines.remote_http import RemoteError
from rtvi_edge.engines.wyoming_link import WyomingLink, describe, parse_tcp_url


class WyomingTts:
    name = "wyoming"

    def __init__(
        self, url: str, voice: str, sample_rate: int = 22050, timeout: float = 30.0
    ) -> None:
        parse_tcp_url("tts", url)
        self.url = url
        self.voice = voice
        self.timeout = timeout
        # What the server is expected to send; chunks at another rate are resampled.
        self.sample_rate = sample_rate
        self.model_name = f"wyoming:{voice or url.removeprefix('tcp://')}"

    def probe(self) -> None:
        describe("tts", self.url, min(self.timeout, 5.0))

    def synthesize(self, text: str, speed: float) -> Iterator[bytes]:
        from wyoming.audio import AudioChunk, AudioStart, AudioStop
        from wyoming.tts import Synthesize, SynthesizeVoice

        from rtvi_edge.audio.pcm import resample

        voice = SynthesizeVoice(name=self.voice) if self.voice else None
        with WyomingLink("tts", self.url, self.timeout) as link:
            link.send(Synthesize(text=text, voice=voice))
            while True:
                event = link.receive()
                etype = getattr(event, "type", "")
                if AudioStart.is_type(etype):
                    continue
                if AudioStop.is_type(etype):
                    return
                if AudioChunk.is_type(etype):
                    chunk = AudioChunk.from_event(event)  # type: ignore[arg-type]
                    if chunk.width != 2 or chunk.channels != 1:
                        raise RemoteError(
                            f"[tts] base_url = {self.url!r}: audio must be 16-bit mono, got "
                            f"{chunk.width * 8}-bit x{chunk.channels}"
                        )
                    yield resample(chunk.audio, chunk.rate, self.sample_rate)

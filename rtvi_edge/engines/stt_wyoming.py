"""Speech-to-text on a Wyoming server (wyoming-faster-whisper and friends).

The utterance is buffered and sent at `finish()` as audio-start, chunks,
audio-stop; the server answers one transcript. No interim text: a LAN server
decodes each utterance once.
"""

from __future__ import annotations

from rtvi_edge.engines.base import SttStream
from rtvi_edge.engines.whole_utterance import WholeUtteranceStream
from rtvi_edge.engines.wyoming_link import WyomingLink, describe, parse_tcp_url
from rtvi_edge.errors import EngineError

RATE = 16000
CHUNK_BYTES = 2 * RATE // 10  # 100 ms


class WyomingStt:
    name = "wyoming"
    streaming = False

    def __init__(self, url: str, model: str, language: str, timeout: float = 30.0) -> None:
        parse_tcp_url("stt", url)
        self.url = url
        self.model = model
        self.language = language
        self.timeout = timeout
        self.model_name = f"wyoming:{model or url.removeprefix('tcp://')}"

    def probe(self) -> None:
        describe("stt", self.url, min(self.timeout, 5.0))

    def open_stream(self) -> SttStream:
        return WholeUtteranceStream(self.transcribe)

    def transcribe(self, pcm: bytes) -> str:
        from wyoming.asr import Transcribe, Transcript
        from wyoming.audio import AudioChunk, AudioStart, AudioStop

        fmt = {"rate": RATE, "width": 2, "channels": 1}
        with WyomingLink("stt", self.url, self.timeout) as link:
            link.send(Transcribe(name=self.model or None, language=self.language or None))
            link.send(AudioStart(**fmt))
            link.send(
                *(
                    AudioChunk(audio=pcm[i : i + CHUNK_BYTES], **fmt)
                    for i in range(0, len(pcm), CHUNK_BYTES)
                )
            )
            link.send(AudioStop())
            while True:
                event = link.receive()
                if Transcript.is_type(event.type):  # type: ignore[attr-defined]
                    return str(Transcript.from_event(event).text or "").strip()  # type: ignore[arg-type]
                if getattr(event, "type", "").startswith("transcript-"):
                    continue  # streaming servers' transcript-start/-chunk: the final one follows
                raise EngineError(f"[stt] base_url = {self.url!r}: unexpected {event!r}")

"""Speech-to-text on a server with the OpenAI transcription API
(`POST /v1/audio/transcriptions`: faster-whisper-server/speaches, LocalAI, vLLM)."""

from __future__ import annotations

import io
import uuid
import wave

from rtvi_edge.engines.base import SttStream
from rtvi_edge.engines.remote_http import HttpClient, RemoteError, probe_alive
from rtvi_edge.engines.whole_utterance import WholeUtteranceStream

RATE = 16000


def wav_bytes(pcm: bytes, rate: int = RATE) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)
    return out.getvalue()


def multipart(fields: dict[str, str], file_name: str, file_data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts: list[bytes] = []
    for key, value in fields.items():
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n'
        parts.append(f"{head}{value}\r\n".encode())
    parts.append(
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="{file_name}"\r\nContent-Type: audio/wav\r\n\r\n'
        ).encode()
        + file_data
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


class OpenAiStt:
    name = "openai"
    streaming = False

    def __init__(
        self, base_url: str, model: str, language: str, api_key: str = "", timeout: float = 30.0
    ) -> None:
        self._http = HttpClient("stt", base_url, api_key, timeout)
        self.model = model or "whisper-1"
        self.language = language
        self.model_name = f"openai:{self.model}"

    def probe(self) -> None:
        probe_alive(self._http)

    def open_stream(self) -> SttStream:
        return WholeUtteranceStream(self.transcribe)

    def transcribe(self, pcm: bytes) -> str:
        fields = {"model": self.model, "response_format": "json"}
        if self.language:
            fields["language"] = self.language
        body, ctype = multipart(fields, "utterance.wav", wav_bytes(pcm))
        with self._http.open("/audio/transcriptions", body, ctype) as resp:
            reply = self._http._json(self._http._read(resp, "/audio/transcriptions"), "")
        text = reply.get("text") if isinstance(reply, dict) else None
        if not isinstance(text, str):
            raise RemoteError(f"{self._http.where()}: the transcription has no text: {reply!r:.80}")
        return text.strip()

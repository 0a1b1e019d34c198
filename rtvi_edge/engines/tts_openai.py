"""Text-to-speech on a server with the OpenAI speech API (`POST /v1/audio/speech`,
`response_format = "pcm"`: 16-bit mono at 24 kHz), streamed as the body arrives."""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.client import HTTPException

from rtvi_edge.engines.remote_http import HttpClient, RemoteError

PCM_RATE = 24000
READ_BYTES = 4800  # 100 ms


class OpenAiTts:
    name = "openai"
    sample_rate = PCM_RATE

    def __init__(
        self, base_url: str, model: str, voice: str, api_key: str = "", timeout: float = 30.0
    ) -> None:
        self._http = HttpClient("tts", base_url, api_key, timeout)
        self.model = model or "tts-1"
        self.voice = voice or "alloy"
        self.model_name = f"openai:{self.model}/{self.voice}"

    def probe(self) -> None:
        self._http.get_json("/models", timeout=5.0)

    def synthesize(self, text: str, speed: float) -> Iterator[bytes]:
        body = {
            "model": self.model,
            "voice": self.voice,
            "input": text,
            "response_format": "pcm",
            "speed": speed,
        }
        with self._http.open("/audio/speech", json.dumps(body).encode()) as resp:
            ctype = resp.headers.get("Content-Type", "")
            if "json" in ctype or "text" in ctype:
                raise RemoteError(
                    f"{self._http.where()}: /audio/speech answered {ctype}, not audio"
                )
            carry = b""
            while True:
                data = self._http_read(resp)
                if not data:
                    break
                data = carry + data
                cut = len(data) - len(data) % 2
                carry = data[cut:]
                if cut:
                    yield data[:cut]

    def _http_read(self, resp: object) -> bytes:
        try:
            return resp.read(READ_BYTES)  # type: ignore[attr-defined,no-any-return]
        except (OSError, HTTPException) as exc:
            raise RemoteError(f"{self._http.where()}: /audio/speech broke off: {exc}") from None

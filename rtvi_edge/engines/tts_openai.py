"""Text-to-speech on a server with the OpenAI speech API (`POST /v1/audio/speech`,
`response_format = "pcm"`: 16-bit mono, 24 kHz unless the server says otherwise in
`X-Sample-Rate`, as Piper-based servers do), streamed as the body arrives."""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.client import HTTPException

import numpy as np
import soxr

from rtvi_edge.engines.remote_http import HttpClient, RemoteError, probe_alive

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
        probe_alive(self._http)

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
            rate = _declared_rate(resp.headers.get("X-Sample-Rate"))
            stream = None
            if rate != self.sample_rate:  # one stream, so chunk edges do not click
                stream = soxr.ResampleStream(rate, self.sample_rate, 1, dtype="int16")
            carry = b""
            while True:
                data = self._http_read(resp)
                if not data:
                    break
                data = carry + data
                cut = len(data) - len(data) % 2
                carry = data[cut:]
                if not cut:
                    continue
                if stream is None:
                    yield data[:cut]
                else:
                    pcm = np.frombuffer(data[:cut], dtype=np.int16)
                    yield stream.resample_chunk(pcm).tobytes()
            if stream is not None:
                yield stream.resample_chunk(np.zeros(0, dtype=np.int16), last=True).tobytes()

    def _http_read(self, resp: object) -> bytes:
        try:
            return resp.read(READ_BYTES)  # type: ignore[attr-defined,no-any-return]
        except (OSError, HTTPException) as exc:
            raise RemoteError(f"{self._http.where()}: /audio/speech broke off: {exc}") from None


def _declared_rate(value: str | None) -> int:
    try:
        rate = int(value) if value else PCM_RATE
    except ValueError:
        return PCM_RATE
    return rate if 8000 <= rate <= 48000 else PCM_RATE

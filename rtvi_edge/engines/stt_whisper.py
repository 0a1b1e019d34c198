"""Whisper speech-to-text through faster-whisper (CTranslate2).

Whisper is not streaming: interim text comes from re-decoding the growing
utterance buffer, and `finish()` caches its result so the pipeline can decode
speculatively at the first pause and reuse the text when the endpoint fires.

Whisper pads every input to a 30 s window, and the encoder's cost follows the
window, not the speech. CTranslate2 accepts a shorter window: a window of the
utterance plus a few seconds (never under 8 s, below which the decoder starts
to repeat itself) gives the same text about four times faster on a Pi-class CPU.
"""

from __future__ import annotations

import logging
import math
import threading
from pathlib import Path

import numpy as np

from rtvi_edge.engines.base import SttStream
from rtvi_edge.engines.whisper_import import import_faster_whisper
from rtvi_edge.errors import EngineError, ModelNotFoundError

log = logging.getLogger(__name__)

# Texts Whisper invents on silence or noise; never a user turn on their own.
HALLUCINATIONS = frozenset({"", "you", "thank you", "thanks for watching", "bye"})
MIN_WINDOW_SECS = 8
WINDOW_MARGIN_SECS = 4
FULL_WINDOW_SECS = 30
NO_SPEECH_PROB = 0.8


class WhisperStt:
    name = "whisper"
    streaming = False

    def __init__(self, model_dir: Path, threads: int, language: str, beam_size: int) -> None:
        try:  # without PyAV: whisper_import.py says why
            faster_whisper = import_faster_whisper()
        except ImportError as exc:  # pragma: no cover - dependency of the package
            raise EngineError("faster-whisper is not installed") from exc
        # Only a converted model directory: anything else faster-whisper would take for
        # a model name or a Hugging Face repo id and try to download.
        if not (model_dir / "model.bin").is_file():
            raise ModelNotFoundError(
                f"no Whisper model at {model_dir} (want a CTranslate2 model directory "
                "with model.bin, or a name: tiny.en, base)"
            )
        try:  # ctranslate2 rejects a Path object: it must be a str.
            self._model = faster_whisper.WhisperModel(
                str(model_dir), device="cpu", compute_type="int8", cpu_threads=threads
            )
        except Exception as exc:  # a damaged or foreign model.bin: ctranslate2's own errors
            raise EngineError(f"faster-whisper could not load {model_dir}: {exc}") from None
        name = {"model": "tiny.en", "whisper-base": "base"}.get(model_dir.name, model_dir.name)
        self.model_name = f"whisper:{name}"
        self._language = language if language else None
        self._beam_size = beam_size
        from faster_whisper.tokenizer import Tokenizer

        multilingual = self._model.model.is_multilingual
        self._tokenizer = Tokenizer(
            self._model.hf_tokenizer,
            multilingual,
            task="transcribe",
            language=(self._language or "en") if multilingual else None,
        )
        self._prompt = [*self._tokenizer.sot_sequence, self._tokenizer.no_timestamps]
        # One decode at a time: CTranslate2 already uses every core we gave it.
        self._lock = threading.Lock()

    def open_stream(self) -> SttStream:
        return WhisperStream(self)

    def decode(self, pcm: bytes) -> str:
        audio = np.frombuffer(pcm, dtype=np.int16).astype(np.float32) / 32768.0
        if audio.size < 1600:  # under 0.1 s: nothing worth decoding
            return ""
        secs = audio.size / 16000
        with self._lock:
            if secs + WINDOW_MARGIN_SECS >= FULL_WINDOW_SECS:
                text = self._decode_long(audio)
            else:
                text = self._decode_window(audio, secs)
        text = " ".join(text.split())
        if text.strip(" .,!?").lower() in HALLUCINATIONS:
            return ""
        return text

    def _decode_window(self, audio: np.ndarray, secs: float) -> str:
        import ctranslate2

        window = max(MIN_WINDOW_SECS, math.ceil(secs) + WINDOW_MARGIN_SECS)
        padded = np.zeros(window * 16000, dtype=np.float32)
        padded[: audio.size] = audio
        features = self._model.feature_extractor(padded)[:, : window * 100]
        encoded = self._model.model.encode(
            ctranslate2.StorageView.from_array(np.ascontiguousarray(features[None])),
            to_cpu=False,
        )
        result = self._model.model.generate(
            encoded,
            [self._prompt],
            beam_size=self._beam_size,
            max_length=int(12 + 8 * secs),  # people say under 5 tokens a second
            suppress_blank=True,
            return_no_speech_prob=True,
        )[0]
        if result.no_speech_prob >= NO_SPEECH_PROB:
            return ""
        eot = self._tokenizer.eot
        return str(self._tokenizer.decode([t for t in result.sequences_ids[0] if t < eot]))

    def _decode_long(self, audio: np.ndarray) -> str:
        segments, _info = self._model.transcribe(
            audio,
            language=self._language,
            beam_size=self._beam_size,
            vad_filter=False,
            condition_on_previous_text=False,
            without_timestamps=True,
        )
        return "".join(seg.text for seg in segments if seg.no_speech_prob < NO_SPEECH_PROB)


class WhisperStream:
    def __init__(self, engine: WhisperStt) -> None:
        self._engine = engine
        self._chunks: list[bytes] = []
        self._size = 0
        self._cached: tuple[int, str] | None = None
        # The final decode often asks while the speculative one still runs: it waits
        # for it and takes its text instead of decoding the same audio again.
        self._decoding = threading.Lock()

    def feed(self, pcm: bytes) -> None:
        self._chunks.append(pcm)
        self._size += len(pcm)

    def _decode_now(self) -> str:
        with self._decoding:
            size = self._size
            if self._cached and self._cached[0] == size:
                return self._cached[1]
            text = self._engine.decode(b"".join(self._chunks))
            self._cached = (size, text)
            return text

    def partial(self) -> str:
        return self._decode_now()

    def finish(self) -> str:
        return self._decode_now()

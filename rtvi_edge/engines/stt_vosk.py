"""Vosk (Kaldi) speech-to-text: streaming partials; the model is a directory by path."""

from __future__ import annotations

import json
from pathlib import Path

from rtvi_edge.engines.base import SttStream
from rtvi_edge.errors import EngineError, ModelNotFoundError


class VoskStt:
    name = "vosk"
    streaming = True

    def __init__(self, model_dir: Path) -> None:
        if not (model_dir / "am").is_dir() and not (model_dir / "conf").is_dir():
            raise ModelNotFoundError(
                f"Vosk model directory not found or incomplete at {model_dir}; download one "
                "with `rtvi-edge models pull vosk-small-en-us` and set [stt] model to its path"
            )
        try:
            import vosk
        except ImportError as exc:  # pragma: no cover
            raise EngineError("vosk is not installed") from exc
        vosk.SetLogLevel(-1)
        self._vosk = vosk
        try:
            self._model = vosk.Model(str(model_dir))
        except Exception as exc:  # vosk raises a bare Exception for a model it cannot read
            raise EngineError(f"Vosk could not load {model_dir}: {exc}") from None
        self.model_name = f"vosk:{model_dir.name}"

    def open_stream(self) -> SttStream:
        return VoskStream(self._vosk.KaldiRecognizer(self._model, 16000))


class VoskStream:
    def __init__(self, recognizer: object) -> None:
        self._rec = recognizer
        self._done: list[str] = []  # text of segments Vosk already closed
        self._final: str | None = None

    def feed(self, pcm: bytes) -> None:
        if self._final is None and self._rec.AcceptWaveform(pcm):  # type: ignore[attr-defined]
            text = json.loads(self._rec.Result()).get("text", "")  # type: ignore[attr-defined]
            if text:
                self._done.append(text)

    def partial(self) -> str:
        if self._final is not None:
            return self._final
        part = json.loads(self._rec.PartialResult()).get("partial", "")  # type: ignore[attr-defined]
        return " ".join([*self._done, part]).strip()

    def finish(self) -> str:
        if self._final is None:
            text = json.loads(self._rec.FinalResult()).get("text", "")  # type: ignore[attr-defined]
            self._final = " ".join([*self._done, text]).strip()
        return self._final

"""PocketSphinx speech-to-text: truly streaming, cheap partial hypotheses."""

from __future__ import annotations

from pathlib import Path

from rtvi_edge.engines.base import SttStream
from rtvi_edge.errors import EngineError


class PocketSphinxStt:
    name = "pocketsphinx"
    streaming = True

    def __init__(self, model_dir: Path) -> None:
        try:
            import pocketsphinx
        except ImportError as exc:  # pragma: no cover
            raise EngineError("pocketsphinx is not installed") from exc
        self._ps = pocketsphinx
        self._model_dir = model_dir
        self.model_name = f"pocketsphinx:{model_dir.name}"
        if not model_dir.is_dir():
            raise EngineError(f"no PocketSphinx model directory at {model_dir}")
        try:  # load once to fail early on a bad model directory
            self._new_decoder()
        except Exception as exc:  # pocketsphinx raises RuntimeError/ValueError of its own
            raise EngineError(f"PocketSphinx could not load {model_dir}: {exc}") from None

    def _new_decoder(self) -> object:
        d = self._model_dir
        # The packaged layout is en-us/{en-us/ (acoustic model), en-us.lm.bin, cmudict...}.
        hmm = d if (d / "mdef").exists() else d / "en-us"
        return self._ps.Decoder(
            hmm=str(hmm),
            lm=str(d / "en-us.lm.bin") if (d / "en-us.lm.bin").exists() else None,
            dict=str(d / "cmudict-en-us.dict") if (d / "cmudict-en-us.dict").exists() else None,
            samprate=16000,
            loglevel="FATAL",
        )

    def open_stream(self) -> SttStream:
        return PocketSphinxStream(self._new_decoder())


class PocketSphinxStream:
    def __init__(self, decoder: object) -> None:
        self._decoder = decoder
        self._decoder.start_utt()  # type: ignore[attr-defined]
        self._final: str | None = None

    def feed(self, pcm: bytes) -> None:
        if self._final is None:
            self._decoder.process_raw(pcm, False, False)  # type: ignore[attr-defined]

    def _hyp(self) -> str:
        hyp = self._decoder.hyp()  # type: ignore[attr-defined]
        return " ".join(hyp.hypstr.split()) if hyp is not None else ""

    def partial(self) -> str:
        return self._final if self._final is not None else self._hyp()

    def finish(self) -> str:
        if self._final is None:
            self._decoder.end_utt()  # type: ignore[attr-defined]
            self._final = self._hyp()
        return self._final

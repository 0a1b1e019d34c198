"""Smart Turn v3: has the user finished their turn? (ONNX, from the pipecat-ai wheel)

The model (a Whisper-tiny encoder with a classifier, 8 MB) reads the last 8 s
of 16 kHz audio, zero-padded in front, as normalised Whisper log-mel features
and returns the probability that the turn is complete. Only the model file is
used: the package directory is found without importing pipecat (its framework
and dependencies are not installed). One session, one thread, shared by every
conversation (`EngineHub.turn_model`); each call costs some tens of milliseconds.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import importlib.util
import logging
import os
import threading
from pathlib import Path

import numpy as np

from rtvi_edge.audio.log_mel import LogMel, normalize
from rtvi_edge.errors import EngineError, ModelNotFoundError

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
WINDOW_SECS = 8
MODEL_FILE = "smart-turn-v3.2-cpu.onnx"
_DATA_DIR = ("audio", "turn", "smart_turn", "data")
# The verdict runs beside the speculative answer (STT → LLM → TTS), which is what the
# user waits for; on 2 cores an equal-priority verdict slowed the LLM's first token
# from ~70 to ~140 ms. A late verdict costs at most `[turn] grace_secs` of waiting.
NICENESS = 5


def _lower_priority() -> None:
    """Runs in the model's own thread: on Linux a thread has its own nice value."""
    with contextlib.suppress(OSError, AttributeError):  # not Linux: equal priority
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICENESS)


def packaged_model() -> Path:
    """The ONNX file inside the installed pipecat-ai package (not imported)."""
    spec = importlib.util.find_spec("pipecat")
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(
            "the Smart Turn model comes from the pipecat-ai package, which is not installed; "
            "run scripts/setup (or `pip install --no-deps pipecat-ai==1.14.0`), "
            "or set [turn] model to the path of a smart-turn-v3 .onnx file"
        )
    for location in spec.submodule_search_locations:
        data = Path(location).joinpath(*_DATA_DIR)
        found = sorted(data.glob("smart-turn-v3*.onnx"))
        if (data / MODEL_FILE).is_file():
            return data / MODEL_FILE
        if found:
            return found[-1]
    raise ModelNotFoundError(f"no smart-turn-v3 .onnx file in the installed pipecat-ai ({spec})")


class SmartTurn:
    name = "smart-turn-v3"

    def __init__(self, model_path: Path, threads: int = 1) -> None:
        import onnxruntime

        if not model_path.is_file():
            raise ModelNotFoundError(f"Smart Turn model not found at {model_path}")
        opts = onnxruntime.SessionOptions()
        opts.inter_op_num_threads = 1
        opts.intra_op_num_threads = threads
        opts.log_severity_level = 4
        opts.enable_cpu_mem_arena = False  # ~25 MiB less resident, no slower
        try:
            self._session = onnxruntime.InferenceSession(
                str(model_path), providers=["CPUExecutionProvider"], sess_options=opts
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise EngineError(f"cannot load the Smart Turn model {model_path}: {exc}") from exc
        self._input = self._session.get_inputs()[0].name
        self._log_mel = LogMel()
        self._lock = threading.Lock()  # one inference at a time: it is given one thread

    def features(self, pcm: bytes) -> np.ndarray:
        """The model's input for 16 kHz s16le audio: its last 8 s, zeros in front."""
        audio = np.frombuffer(pcm, dtype=np.int16).astype(np.float32) / 32768.0
        n = WINDOW_SECS * SAMPLE_RATE
        window = np.zeros(n, dtype=np.float32)
        tail = audio[-n:]
        window[n - tail.size :] = tail
        return self._log_mel(normalize(window))[None]

    def probability(self, pcm: bytes) -> float:
        """Probability that the speech in `pcm` is a finished turn (blocking)."""
        features = self.features(pcm)
        with self._lock:
            out = self._session.run(None, {self._input: features})
        return float(np.asarray(out[0]).reshape(-1)[0])


class SharedTurnModel:
    """The process's one Smart Turn model, loaded on first use or preloaded in the background.

    Conversations ask it for verdicts from worker threads; a model that cannot be
    loaded is reported once and then answers None (the endpointer falls back to
    the fixed silence timeout)."""

    def __init__(self) -> None:
        self._path = ""
        self._threads = 1
        self._model: SmartTurn | None = None
        self._error: str = ""
        self._lock = threading.Lock()
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None

    def configure(self, path: str, threads: int) -> None:
        """'' = the model inside the installed pipecat-ai package."""
        with self._lock:
            if (path, threads) != (self._path, self._threads):
                self._path, self._threads = path, threads
                self._model, self._error = None, ""

    def preload(self) -> None:
        """Load in a background thread (start-up is not kept waiting)."""
        threading.Thread(target=self.load, name="turn-model-load", daemon=True).start()

    def load(self) -> SmartTurn | None:
        with self._lock:
            if self._model is None and not self._error:
                try:
                    path = Path(self._path) if self._path else packaged_model()
                    self._model = SmartTurn(path, self._threads)
                    log.info("turn model loaded: %s", path)
                except (EngineError, ModelNotFoundError) as exc:
                    self._error = str(exc)
                    log.warning("turn model unavailable (fixed silence timeout instead): %s", exc)
            return self._model

    def probability(self, pcm: bytes) -> float | None:
        """Blocking; None when there is no model."""
        model = self.load()
        return None if model is None else model.probability(pcm)

    async def judge(self, pcm: bytes) -> float | None:
        """`probability` in the model's own low-priority thread (one verdict at a time)."""
        with self._lock:
            if self._executor is None:
                self._executor = concurrent.futures.ThreadPoolExecutor(
                    1, thread_name_prefix="turn-model", initializer=_lower_priority
                )
            executor = self._executor
        return await asyncio.get_running_loop().run_in_executor(executor, self.probability, pcm)

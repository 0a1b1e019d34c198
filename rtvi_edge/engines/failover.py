"""An ordered list of backends per stage behind the ordinary engine Protocols.

Each turn tries the backends that are up, in order. A backend that errors, or
is later than the stage's budget (first token, first audio, transcript), is
skipped for this turn and marked down; the next one answers, so the user hears
the local engine rather than silence. The last backend has no budget: it is the
last resort. Down backends come back through `BackendMonitor`'s probes.

A backend that dies mid-answer hands over to the next, which answers afresh
(it cannot continue another model's sentence); the context keeps what was heard.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from rtvi_edge.engines.backends import BackendHealth, BackendMonitor
from rtvi_edge.engines.base import (
    ConstrainedModel,
    GenerationParams,
    GenerationStats,
    LanguageModel,
    SpeechToText,
    SttStream,
    TextToSpeech,
)
from rtvi_edge.engines.whole_utterance import WholeUtteranceStream
from rtvi_edge.errors import EngineError, RtviEdgeError

T = TypeVar("T")


class _Named(Protocol):
    @property
    def model_name(self) -> str: ...


E = TypeVar("E")
N = TypeVar("N", bound=_Named)  # a stage's engine

_DONE = object()
POLL_SECS = 0.05


class OverBudget(EngineError):
    """A backend did not deliver within its stage's latency budget."""


@dataclass
class Backend(Generic[E]):
    health: BackendHealth
    engine: E


def timed_iter(
    make: Callable[[threading.Event], Iterator[T]],
    budget: float | None,
    cancel: threading.Event,
    what: str,
) -> Iterator[T]:
    """What `make(stop)` yields, produced in its own thread; OverBudget when the first
    item (or any next one) takes longer than `budget`. `stop` is set when we give up."""
    items: queue.Queue[object] = queue.Queue(maxsize=64)
    stop = threading.Event()

    def produce() -> None:
        gen = make(stop)
        try:
            for item in gen:
                while not stop.is_set():
                    try:
                        items.put(item, timeout=POLL_SECS)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            items.put(_DONE)
        except BaseException as exc:  # handed to the consumer, raised there
            items.put(exc)
        finally:
            close = getattr(gen, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=produce, name=f"failover-{what}", daemon=True)
    worker.start()
    try:
        while True:
            deadline = None if budget is None else time.monotonic() + budget
            while True:
                if cancel.is_set():
                    return
                try:
                    item = items.get(timeout=POLL_SECS)
                    break
                except queue.Empty:
                    if deadline is not None and time.monotonic() > deadline:
                        raise OverBudget(f"{what}: nothing within {budget:g} s") from None
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        stop.set()


def timed_call(fn: Callable[[], T], budget: float | None, what: str) -> T:
    """`fn()` in a thread, or OverBudget after `budget` seconds (the thread is abandoned)."""
    if budget is None:
        return fn()
    result: list[T] = []

    def make(stop: threading.Event) -> Iterator[T]:
        yield fn()

    for value in timed_iter(make, budget, threading.Event(), what):
        result.append(value)
    if not result:
        raise EngineError(f"{what}: no result")
    return result[0]


class _Chain(Generic[N]):
    """The order and bookkeeping shared by the three stages."""

    def __init__(self, backends: list[Backend[N]], monitor: BackendMonitor, budget: float) -> None:
        if not backends:
            raise EngineError("a stage needs at least one backend")
        self.backends = backends
        self.monitor = monitor
        self.budget = budget
        self.model_name = backends[0].engine.model_name  # the one that answered last

    def order(self) -> list[Backend[N]]:
        """The usable backends in order; the last resort is always among them."""
        now = time.monotonic()
        usable = [b for b in self.backends if b.health.usable(now)]
        if not usable or usable[-1] is not self.backends[-1]:
            usable.append(self.backends[-1])
        return usable

    def budget_for(self, chain: list[Backend[N]], i: int) -> float | None:
        return None if i == len(chain) - 1 else self.budget

    def failed(self, chain: list[Backend[N]], i: int, exc: Exception) -> None:
        kind = "slow" if isinstance(exc, OverBudget) else "error"
        after = chain[i + 1].health.name if i + 1 < len(chain) else ""
        reason = str(exc) if isinstance(exc, RtviEdgeError) else f"{type(exc).__name__}: {exc}"
        self.monitor.failed(chain[i].health, reason, kind, after)


class FailoverLlm(_Chain[LanguageModel]):
    name = "failover"

    def count_tokens(self, text: str) -> int:
        # The largest count of all: the trimmed context then fits whichever answers.
        return max(b.engine.count_tokens(text) for b in self.backends)

    def stream_chat(
        self,
        messages: list[dict[str, Any]],
        params: GenerationParams,
        cancel: threading.Event,
        stats: GenerationStats,
    ) -> Iterator[str]:
        chain = self.order()
        for i, backend in enumerate(chain):
            engine = backend.engine
            attempt = GenerationStats()

            def make(
                stop: threading.Event,
                e: LanguageModel = engine,
                attempt: GenerationStats = attempt,
            ) -> Iterator[str]:
                return e.stream_chat(messages, params, _either(stop, cancel), attempt)

            try:
                yield from timed_iter(make, self.budget_for(chain, i), cancel, "first token")
            except Exception as exc:  # any failure of one backend: the next one answers
                if i == len(chain) - 1:
                    raise
                self.failed(chain, i, exc)
                continue
            stats.prompt_tokens += attempt.prompt_tokens
            stats.completion_tokens += attempt.completion_tokens
            if not cancel.is_set():
                self.monitor.succeeded(backend.health)
                self.model_name = engine.model_name
            return

    def _constrained(self, call: Callable[[ConstrainedModel], T], what: str, default: T) -> T:
        chain = [b for b in self.order() if isinstance(b.engine, ConstrainedModel)]
        for i, backend in enumerate(chain):
            engine = backend.engine
            assert isinstance(engine, ConstrainedModel)
            try:
                value = timed_call(
                    lambda e=engine: call(e),  # type: ignore[misc]
                    self.budget_for(chain, i),  # type: ignore[arg-type]
                    what,
                )
            except Exception as exc:  # any failure of one backend: the next one answers
                if i == len(chain) - 1:
                    raise
                self.failed(chain, i, exc)  # type: ignore[arg-type]
                continue
            self.monitor.succeeded(backend.health)
            return value
        return default

    def choose(self, messages: list[dict[str, Any]], options: list[str]) -> str:
        return self._constrained(lambda e: e.choose(messages, options), "tool choice", options[-1])

    def json_arguments(self, messages: list[dict[str, Any]], schema: dict[str, Any]) -> Any:
        return self._constrained(lambda e: e.json_arguments(messages, schema), "tool arguments", {})


def _either(a: threading.Event, b: threading.Event) -> threading.Event:
    """An Event set when either is set (checked by the engines between tokens)."""
    both = _EitherEvent(a, b)
    return both


class _EitherEvent(threading.Event):
    def __init__(self, a: threading.Event, b: threading.Event) -> None:
        super().__init__()
        self._a, self._b = a, b

    def is_set(self) -> bool:
        return super().is_set() or self._a.is_set() or self._b.is_set()


class FailoverStt(_Chain[SpeechToText]):
    """Buffers the utterance; the transcript comes from the first backend in budget."""

    name = "failover"
    streaming = False

    def open_stream(self) -> SttStream:
        return WholeUtteranceStream(self.transcribe)

    def transcribe(self, pcm: bytes) -> str:
        chain = self.order()
        for i, backend in enumerate(chain):

            def run(e: SpeechToText = backend.engine) -> str:
                stream = e.open_stream()
                stream.feed(pcm)
                return stream.finish()

            try:
                text = timed_call(run, self.budget_for(chain, i), "transcript")
            except Exception as exc:  # any failure of one backend: the next one answers
                if i == len(chain) - 1:
                    raise
                self.failed(chain, i, exc)
                continue
            self.monitor.succeeded(backend.health)
            self.model_name = backend.engine.model_name
            return text
        return ""


class FailoverTts(_Chain[TextToSpeech]):
    """Speaks at the last backend's rate (the local voice); other rates are resampled."""

    name = "failover"

    def __init__(
        self, backends: list[Backend[TextToSpeech]], monitor: BackendMonitor, budget: float
    ) -> None:
        super().__init__(backends, monitor, budget)
        self.sample_rate = backends[-1].engine.sample_rate

    def synthesize(self, text: str, speed: float) -> Iterator[bytes]:
        from rtvi_edge.audio.pcm import resample

        chain = self.order()
        for i, backend in enumerate(chain):
            engine = backend.engine

            def make(stop: threading.Event, e: TextToSpeech = engine) -> Iterator[bytes]:
                return e.synthesize(text, speed)

            pieces: list[bytes] = []
            try:
                for pcm in timed_iter(
                    make, self.budget_for(chain, i), threading.Event(), "first audio"
                ):
                    pieces.append(resample(pcm, engine.sample_rate, self.sample_rate))
            except Exception as exc:  # any failure of one backend: the next one answers
                if i == len(chain) - 1:
                    raise
                self.failed(chain, i, exc)
                continue
            self.monitor.succeeded(backend.health)
            self.model_name = engine.model_name
            yield from pieces
            return

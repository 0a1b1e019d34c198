"""Small Protocols every engine implements; the pipeline depends only on these.

All methods here are blocking: the pipeline calls them from worker threads
(`rtvi_edge.engines.threads`), never on the event loop.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable


class SttStream(Protocol):
    """One utterance being recognised."""

    def feed(self, pcm: bytes) -> None:
        """Add 16 kHz mono s16le audio."""

    def partial(self) -> str:
        """Best hypothesis for the audio fed so far (may be expensive)."""

    def finish(self) -> str:
        """Final text for all audio fed so far; cheap if nothing changed since last call."""


class SpeechToText(Protocol):
    name: str
    model_name: str
    streaming: bool  # True: partial() is cheap and can run after every feed()

    def open_stream(self) -> SttStream: ...


@dataclass(frozen=True)
class GenerationParams:
    max_tokens: int = 160
    temperature: float = 0.3
    top_p: float = 0.9
    tools: tuple[dict[str, Any], ...] = ()


@dataclass
class GenerationStats:
    prompt_tokens: int = 0
    completion_tokens: int = 0


class LanguageModel(Protocol):
    name: str
    model_name: str

    def stream_chat(
        self,
        messages: list[dict[str, Any]],
        params: GenerationParams,
        cancel: threading.Event,
        stats: GenerationStats,
    ) -> Iterator[str]:
        """Yields text pieces of the assistant's answer; stops early when `cancel` is set."""
        ...

    def count_tokens(self, text: str) -> int: ...


@runtime_checkable
class ConstrainedModel(Protocol):
    """Grammar-constrained generation, for tool calls on models too small to format them."""

    def choose(self, messages: list[dict[str, Any]], options: list[str]) -> str:
        """Exactly one of `options`."""
        ...

    def json_arguments(self, messages: list[dict[str, Any]], schema: dict[str, Any]) -> Any:
        """A JSON value valid against `schema`."""
        ...


@runtime_checkable
class EndOfTurnModel(Protocol):
    """A language model that can say whether the user's words so far end their turn."""

    def end_of_turn_probability(self, messages: list[dict[str, Any]]) -> float | None:
        """P(the user's last message is finished); None when it cannot tell."""
        ...


class TextToSpeech(Protocol):
    name: str
    model_name: str
    sample_rate: int

    def synthesize(self, text: str, speed: float) -> Iterator[bytes]:
        """Yields mono s16le PCM at `sample_rate`, one piece per sentence or less."""
        ...


class VadStream(Protocol):
    frame_samples: int  # samples per frame at 16 kHz

    def probability(self, frame: bytes) -> float:
        """Speech probability of one frame of `frame_samples` 16 kHz s16le samples."""
        ...

    def reset(self) -> None: ...


class VoiceActivityModel(Protocol):
    name: str

    def open_stream(self) -> VadStream: ...

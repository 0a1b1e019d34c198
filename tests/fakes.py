"""Fake engines behind the engine Protocols (engines/base.py), and helpers to drive them.

For the fast tests of orchestration (turn-taking, interruption, sessions, the
daemon): no models, no threads of real work. The voice is a convention:
`speech()` is loud audio the fake VAD calls speech, `silence()` is zeros; the
fake STT answers each utterance with the next line of its script. Event waiters
and audio feeders are in tests/helpers.py.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from rtvi_edge.audio.sink import NullSink
from rtvi_edge.engines.base import GenerationParams, GenerationStats
from rtvi_edge.engines.hub import Engines
from rtvi_edge.errors import AudioDeviceError, EngineError

RATE = 16000
FRAME = 512  # the fake VAD's frame, like Silero's


class FakeVadStream:
    frame_samples = FRAME

    def __init__(self) -> None:
        self.frames = 0  # how many frames it judged

    def probability(self, frame: bytes) -> float:
        self.frames += 1
        return 1.0 if any(frame[:64]) else 0.0

    def reset(self) -> None:
        pass


class FakeVad:
    name = "fake-vad"

    def __init__(self) -> None:
        self.streams: list[FakeVadStream] = []

    def open_stream(self) -> FakeVadStream:
        self.streams.append(FakeVadStream())
        return self.streams[-1]


class FakeSttStream:
    def __init__(self, text: str) -> None:
        self.text = text
        self.fed = 0

    def feed(self, pcm: bytes) -> None:
        self.fed += len(pcm)

    def partial(self) -> str:
        return self.text

    def finish(self) -> str:
        return self.text


class FakeStt:
    """Utterance n is heard as `script[n]` (then "" once the script is used up)."""

    name = "fake-stt"
    model_name = "fake-stt"
    streaming = False

    def __init__(self, script: list[str] | None = None) -> None:
        self.script = list(script or [])

    def open_stream(self) -> FakeSttStream:
        return FakeSttStream(self.script.pop(0) if self.script else "")


class FakeLlm:
    """Answers `reply(messages)` (default: echoes the user), a word at a time.

    As a backend of a failover chain it has a `name`, may be slow to start
    (`delay`), fail (`fail`: the error's message, at once or after `fail_after`
    words) and be probed (`healthy`)."""

    def __init__(
        self,
        reply: Callable[[list[dict[str, Any]]], str] | None = None,
        word_secs: float = 0.0,
        *,
        name: str = "fake-llm",
        delay: float = 0.0,
        tokens_per_word: int = 1,
    ) -> None:
        self.reply = reply or (lambda messages: f"You said {messages[-1]['content']}.")
        self.word_secs = word_secs
        self.name = self.model_name = name
        self.delay = delay
        self.tokens_per_word = tokens_per_word
        self.fail = ""
        self.fail_after = -1  # words before failing mid-answer
        self.healthy = True
        self.calls: list[list[dict[str, Any]]] = []

    def stream_chat(
        self,
        messages: list[dict[str, Any]],
        params: GenerationParams,
        cancel: threading.Event,
        stats: GenerationStats,
    ) -> Iterator[str]:
        self.calls.append(messages)
        if self.fail and self.fail_after < 0:
            raise EngineError(self.fail)
        time.sleep(self.delay)
        stats.prompt_tokens = sum(self.count_tokens(str(m.get("content", ""))) for m in messages)
        for i, word in enumerate(self.reply(messages).split()):
            if i == self.fail_after:
                raise EngineError(self.fail)
            if cancel.is_set() or (self.word_secs and cancel.wait(self.word_secs)):
                return
            stats.completion_tokens += 1
            yield word if i == 0 else " " + word

    def count_tokens(self, text: str) -> int:
        return len(text.split()) * self.tokens_per_word

    def probe(self) -> None:
        if not self.healthy:
            raise EngineError(f"{self.name} still down")


class FakeTts:
    """`secs_per_char` of quiet noise per character: long enough to interrupt."""

    name = "fake-tts"
    model_name = "fake-tts"
    sample_rate = RATE

    def __init__(self, secs_per_char: float = 0.005) -> None:
        self.secs_per_char = secs_per_char
        self.spoken: list[str] = []

    def synthesize(self, text: str, speed: float) -> Iterator[bytes]:
        self.spoken.append(text)
        yield b"\x01\x00" * max(1, int(len(text) * self.secs_per_char * RATE))


def fake_engines(
    script: list[str] | None = None, llm: FakeLlm | None = None, tts: FakeTts | None = None
) -> Engines:
    return Engines(stt=FakeStt(script), llm=llm or FakeLlm(), tts=tts or FakeTts(), vad=FakeVad())


class DyingMicrophone:
    """A sound card's input that gives `frames` frames of silence, then is unplugged."""

    def __init__(self, frames: int, frame_bytes: int = 1024, pause: float = 0.0) -> None:
        self.frames_left = frames
        self.frame_bytes = frame_bytes
        self.pause = pause
        self.closed = False

    async def frames(self) -> AsyncIterator[bytes]:
        while self.frames_left > 0:
            self.frames_left -= 1
            await asyncio.sleep(self.pause)
            yield bytes(self.frame_bytes)
        raise AudioDeviceError("device unplugged (simulated)")

    def close(self) -> None:
        self.closed = True


class UnpluggedOnce:
    """Opens the device for a `LocalAudioSupervisor`: the first microphone gives
    `first_frames` frames and is unplugged, the next open fails (the device is gone),
    the one after stays up (`reopened` is set then)."""

    def __init__(
        self, first_frames: int, frame_bytes: int, pause: float = 0.0, rate: int = 16000
    ) -> None:
        self.first_frames, self.frame_bytes, self.pause, self.rate = (
            first_frames, frame_bytes, pause, rate
        )  # fmt: skip
        self.opened: list[DyingMicrophone] = []
        self.reopened = asyncio.Event()

    def __call__(self, cfg: object) -> tuple[DyingMicrophone, NullSink]:
        if len(self.opened) == 1:
            self.opened.append(DyingMicrophone(0, self.frame_bytes, self.pause))
            raise AudioDeviceError("no such device (simulated)")
        if len(self.opened) == 2:
            self.reopened.set()  # attached as soon as this returns
        frames = self.first_frames if not self.opened else 10_000
        source = DyingMicrophone(frames, self.frame_bytes, self.pause)
        self.opened.append(source)
        return source, NullSink(self.rate)


def speech(secs: float) -> bytes:
    """What the fake VAD hears as speech."""
    return b"\x00\x20" * int(secs * RATE)


def silence(secs: float) -> bytes:
    return bytes(2 * int(secs * RATE))

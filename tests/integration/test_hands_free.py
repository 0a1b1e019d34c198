"""Hands-free with the real engines: echo cancellation in a simulated room, the wake
word with its follow-up window, push-to-talk, and a sound device that fails."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import numpy as np
import pytest

from rtvi_edge import events as ev
from rtvi_edge.audio.echo import EchoCanceller, EchoReferenceSink
from rtvi_edge.audio.supervisor import LocalAudioSupervisor
from rtvi_edge.audio.wake import WakeWordDetector
from rtvi_edge.audio.wav import read_wav
from rtvi_edge.config import AudioConfig, config_from_mapping
from rtvi_edge.engines.hub import EngineHub, Engines
from rtvi_edge.errors import AudioDeviceError
from rtvi_edge.pipeline.conversation import Conversation
from rtvi_edge.pipeline.output import NullSink, resample
from rtvi_edge.pipeline.settings import SessionSettings
from rtvi_edge.pipeline.wake_gate import WakeGate

pytestmark = pytest.mark.integration
FRAME = 512  # samples at 16 kHz: 32 ms


class Room:
    """A speaker the microphone hears: what is played comes back 40 ms later at 45 %,
    plus a weaker reflection; user speech can be mixed in."""

    def __init__(self) -> None:
        self.played = np.zeros(0, dtype=np.float32)  # 16 kHz timeline of the speaker
        self.user = np.zeros(0, dtype=np.float32)
        self.clock = 0  # samples of microphone audio produced so far

    def speaker_write(self, pcm: bytes, rate: int) -> None:
        audio = np.frombuffer(resample(pcm, rate, 16000), dtype=np.int16).astype(np.float32)
        start = max(self.clock, len(self.played))
        pad = start - len(self.played)
        self.played = np.concatenate([self.played, np.zeros(pad, np.float32), audio])

    def say(self, pcm16k: bytes, at_secs_from_now: float) -> None:
        start = self.clock + int(at_secs_from_now * 16000)
        audio = np.frombuffer(pcm16k, dtype=np.int16).astype(np.float32)
        need = start + len(audio)
        if len(self.user) < need:
            self.user = np.concatenate([self.user, np.zeros(need - len(self.user), np.float32)])
        self.user[start:need] += audio

    def mic(self) -> bytes:
        a, b = self.clock, self.clock + FRAME
        out = np.zeros(FRAME, np.float32)
        for delay, gain in ((640, 0.45), (1040, 0.15)):
            lo, hi = a - delay, b - delay
            seg = self.played[max(0, lo) : max(0, hi)]
            out[FRAME - len(seg) :] += gain * seg if len(seg) else 0
        seg = self.user[a:b]
        out[: len(seg)] += seg
        self.clock = b
        return np.clip(out, -32768, 32767).astype(np.int16).tobytes()


class RoomSink(NullSink):
    def __init__(self, room: Room) -> None:
        super().__init__(22050)
        self.room = room

    async def play(self, pcm: bytes) -> None:
        await super().play(pcm)
        self.room.speaker_write(pcm, self.sample_rate)


async def run_mic(conv: Conversation, room: Room, secs: float) -> None:
    t = time.monotonic()
    for _ in range(int(secs * 16000 / FRAME)):
        conv.feed_audio(room.mic())
        t += FRAME / 16000
        await asyncio.sleep(max(0.0, t - time.monotonic()))


def make(engines: Engines, sink: object, aec: bool) -> tuple[Conversation, ev.Subscription]:
    # the daemon's own settings for a device with [audio] echo_cancel = true; the control
    # run without the canceller barges in under the very same settings
    config = config_from_mapping({"audio": {"echo_cancel": True}})
    bus = ev.EventBus()
    settings = SessionSettings.from_config(config)
    settings.max_tokens = 120
    conv = Conversation("local", EngineHub(engines, config), bus, settings, None)
    if aec:
        canceller = EchoCanceller(delay_ms=40)
        conv.echo = canceller
        conv.sink = EchoReferenceSink(sink, canceller)  # type: ignore[assignment]
    else:
        conv.sink = sink  # type: ignore[assignment]
    return conv, bus.subscribe()


def drain(sub: ev.Subscription) -> list[ev.Event]:
    out = []
    while not sub.queue.empty():
        out.append(sub.queue.get_nowait())
    return out


STORY = "Tell me a long story about a lighthouse keeper and the sea."


async def bot_talks_in_room(
    engines: Engines, aec: bool, user: bytes | None = None
) -> list[ev.Event]:
    room = Room()
    conv, sub = make(engines, RoomSink(room), aec)
    mic = asyncio.create_task(run_mic(conv, room, 14))
    await conv.send_text(STORY)
    async with asyncio.timeout(30):
        while not any(isinstance(e, ev.BotStartedSpeaking) for e in drain(sub)):
            await asyncio.sleep(0.05)
    if user is not None:
        room.say(user, 1.5)
    await mic
    events = drain(sub)  # before close(), which interrupts whatever is still being said
    await conv.close()
    return events


async def test_echo_cancellation_keeps_the_bot_from_hearing_itself(engines: Engines) -> None:
    events = await bot_talks_in_room(engines, aec=True)
    assert not any(isinstance(e, ev.UserStartedSpeaking | ev.BotInterrupted) for e in events)


async def test_without_echo_cancellation_the_bot_hears_itself(engines: Engines) -> None:
    # the control experiment: the same room without AEC barges in on itself
    events = await bot_talks_in_room(engines, aec=False)
    assert any(isinstance(e, ev.UserStartedSpeaking) for e in events)


async def test_user_speech_over_the_bot_still_interrupts(
    engines: Engines, speech: Callable[[str], Path]
) -> None:
    user = read_wav(speech("Stop talking please, I have a question"), 16000)
    events = await bot_talks_in_room(engines, aec=True, user=user)
    assert any(isinstance(e, ev.UserStartedSpeaking) for e in events)
    assert any(isinstance(e, ev.BotInterrupted) for e in events)


async def feed_wav(conv: Conversation, pcm: bytes, tail_secs: float = 1.0) -> None:
    pcm = pcm + bytes(int(tail_secs * 16000) * 2)
    t = time.monotonic()
    for i in range(0, len(pcm), FRAME * 2):
        conv.feed_audio(pcm[i : i + FRAME * 2])
        t += FRAME / 16000
        await asyncio.sleep(max(0.0, t - time.monotonic()))


async def test_wake_word_then_question_then_follow_up(
    engines: Engines, speech: Callable[[str], Path]
) -> None:
    conv, sub = make(engines, NullSink(22050), aec=False)
    conv.wake_gate = WakeGate("wake_word", listen_secs=6, follow_up_secs=6)
    conv.wake_detector = WakeWordDetector("okay_nabu")
    question = read_wav(speech("What is the capital of France?"), 16000)
    # no wake word: ignored
    await feed_wav(conv, question)
    assert not any(isinstance(e, ev.UserStartedSpeaking) for e in drain(sub))
    # wake word, then the question
    await feed_wav(conv, read_wav(speech("Okay Nabu"), 16000), 0.3)
    woke = drain(sub)
    assert any(isinstance(e, ev.WakeDetected) and e.source == "wake_word" for e in woke)
    await feed_wav(conv, question)
    async with asyncio.timeout(30):
        while True:
            events = [e for e in [await sub.get()] if isinstance(e, ev.TurnMetrics)]
            if events:
                break
    # within the follow-up window no wake word is needed
    await feed_wav(conv, read_wav(speech("And what about Germany?"), 16000))
    async with asyncio.timeout(30):
        while True:
            e = await sub.get()
            if isinstance(e, ev.UserTranscription) and e.final:
                assert "germany" in e.text.lower()
                break
    await conv.close()


async def test_push_to_talk(engines: Engines, speech: Callable[[str], Path]) -> None:
    conv, sub = make(engines, NullSink(22050), aec=False)
    conv.wake_gate = WakeGate("push_to_talk", listen_secs=6, follow_up_secs=0)
    question = read_wav(speech("What is two plus two?"), 16000)
    await feed_wav(conv, question)
    assert not any(isinstance(e, ev.UserStartedSpeaking) for e in drain(sub))
    conv.wake("push")
    await feed_wav(conv, question)
    events = drain(sub)
    assert any(isinstance(e, ev.WakeDetected) and e.source == "push" for e in events)
    assert any(isinstance(e, ev.UserStartedSpeaking) for e in events)
    await conv.close()


class DyingSource:
    def __init__(self, frames: int) -> None:
        self.frames_left = frames
        self.closed = False

    async def frames(self) -> AsyncIterator[bytes]:
        while self.frames_left > 0:
            self.frames_left -= 1
            await asyncio.sleep(0.001)
            yield bytes(FRAME * 2)
        raise AudioDeviceError("device unplugged (simulated)")

    def close(self) -> None:
        self.closed = True


async def test_a_failing_device_is_reported_and_reopened(engines: Engines) -> None:
    conv, sub = make(engines, NullSink(22050), aec=False)
    opened: list[DyingSource] = []

    def opener(cfg: AudioConfig) -> tuple[DyingSource, NullSink]:
        if len(opened) == 1:
            opened.append(DyingSource(0))
            raise AudioDeviceError("no such device (simulated)")
        source = DyingSource(20 if not opened else 10_000)
        opened.append(source)
        return source, NullSink(22050)

    sup = LocalAudioSupervisor(AudioConfig(reopen_secs=0.5), conv, opener=opener)  # type: ignore[arg-type]
    task = asyncio.create_task(sup.run())
    async with asyncio.timeout(10):
        while len(opened) < 3 or not sup.connected:
            await asyncio.sleep(0.05)
    errors = [e for e in drain(sub) if isinstance(e, ev.ErrorEvent)]
    assert len(errors) == 1 and "unplugged" in errors[0].message
    assert opened[0].closed and conv.sink is not None
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await conv.close()

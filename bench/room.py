"""A simulated room: a speaker the microphone hears, and a user who may talk over it.

What is played comes back 40 ms later at 45 %, plus a weaker reflection 65 ms
later; user speech is mixed in on the microphone's own clock. Used by the
hands-free tests and the barge-in benchmark (there is no sound card here).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import numpy as np

from rtvi_edge import events as ev
from rtvi_edge.audio.echo import EchoCanceller, EchoReferenceSink
from rtvi_edge.audio.pcm import resample
from rtvi_edge.audio.sink import AudioSink, NullSink
from rtvi_edge.config import config_from_mapping
from rtvi_edge.engines.hub import EngineHub, Engines
from rtvi_edge.pipeline.conversation import Conversation, Shared
from rtvi_edge.pipeline.hands_free import HandsFree, WakeDetector
from rtvi_edge.pipeline.settings import SessionSettings
from rtvi_edge.pipeline.wake_gate import WakeGate

FRAME = 512  # microphone frames: 32 ms at 16 kHz
ECHO_PATHS = ((640, 0.45), (1040, 0.15))  # (delay in samples, gain)
USER_AFTER_SECS = 1.5
STORY = "Tell me a long story about a lighthouse keeper and the sea."


class Room:
    def __init__(self) -> None:
        self.played = np.zeros(0, dtype=np.float32)  # 16 kHz timeline of the speaker
        self.user = np.zeros(0, dtype=np.float32)
        self.clock = 0  # samples of microphone audio produced so far

    def speaker_write(self, pcm: bytes, rate: int) -> None:
        audio = np.frombuffer(resample(pcm, rate, 16000), dtype=np.int16).astype(np.float32)
        start = max(self.clock, len(self.played))  # a dry speaker starts again now
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
        for delay, gain in ECHO_PATHS:
            seg = self.played[max(0, a - delay) : max(0, b - delay)]
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


def make_conversation(
    engines: Engines,
    sink: NullSink,
    aec: bool,
    wake_gate: WakeGate | None = None,
    wake_detector: WakeDetector | None = None,
) -> tuple[Conversation, ev.Subscription]:
    """The daemon's own settings for a device with `[audio] echo_cancel = true`; without
    the canceller it barges in under the very same settings (the control)."""
    config = config_from_mapping({"audio": {"echo_cancel": True}})
    bus = ev.EventBus()
    settings = SessionSettings.from_config(config)
    settings.max_tokens = 120
    canceller = EchoCanceller(delay_ms=40) if aec else None
    heard: AudioSink = EchoReferenceSink(sink, canceller) if canceller is not None else sink
    hub = EngineHub(engines, config)
    hands_free = HandsFree(echo=canceller, wake_gate=wake_gate, wake_detector=wake_detector)
    conv = Conversation("local", Shared(hub, bus), settings, heard, hands_free=hands_free)
    return conv, bus.subscribe()


def drain(sub: ev.Subscription) -> list[ev.Event]:
    out = []
    while not sub.queue.empty():
        out.append(sub.queue.get_nowait())
    return out


@dataclass
class RoomRun:
    events: list[ev.Event]  # from the bot's first word on
    user_at: float | None  # monotonic time the user's recording starts playing


async def bot_talks_in_room(
    engines: Engines, aec: bool, user: bytes | None = None, secs: float = 14
) -> RoomRun:
    """The bot tells a story for `secs`; the user, if given, speaks 1.5 s into it."""
    room = Room()
    conv, sub = make_conversation(engines, RoomSink(room), aec)
    mic = asyncio.create_task(run_mic(conv, room, secs))
    await conv.send_text(STORY)
    async with asyncio.timeout(30):
        while not any(isinstance(e, ev.BotStartedSpeaking) for e in drain(sub)):
            await asyncio.sleep(0.05)
    user_at = None
    if user is not None:
        room.say(user, USER_AFTER_SECS)
        user_at = time.monotonic() + USER_AFTER_SECS
    await mic
    events = drain(sub)  # before close(), which interrupts whatever is still being said
    await conv.close()
    return RoomRun(events, user_at)

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
BOT_START_LIMIT_SECS = 30
STORY = "Tell me a long story about a lighthouse keeper and the sea."


class Room:
    def __init__(self) -> None:
        self.played = np.zeros(0, dtype=np.float32)  # 16 kHz timeline of the speaker
        self.user = np.zeros(0, dtype=np.float32)
        self.clock = 0  # samples of microphone audio produced so far
        self.written: list[tuple[int, int]] = []  # spans of `played` the bot's audio fills

    def speaker_write(self, pcm: bytes, rate: int) -> None:
        audio = np.frombuffer(resample(pcm, rate, 16000), dtype=np.int16).astype(np.float32)
        start = max(self.clock, len(self.played))  # a dry speaker starts again now
        pad = start - len(self.played)
        self.played = np.concatenate([self.played, np.zeros(pad, np.float32), audio])
        self.written.append((start, start + len(audio)))

    def silent_from(self, sample: int, min_secs: float) -> int | None:
        """The first sample at or after `sample` from which the speaker plays nothing of
        the bot's for at least `min_secs` (a hold or an interruption, not a pause in the
        voice: a voice's pauses are audio handed over too); None if it never does."""
        need = int(min_secs * 16000)
        at = sample
        for a, b in self.written:
            if b <= at:
                continue
            if a - at >= need:
                return at
            at = max(at, b)
        return at if self.clock - at >= need else None

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


async def run_mic(
    conv: Conversation, room: Room, secs: float, stop: asyncio.Event | None = None
) -> None:
    """The microphone in real time for `secs`, or until `stop` is set if given."""
    t = time.monotonic()
    for _ in range(int(secs * 16000 / FRAME)):
        if stop is not None and stop.is_set():
            return
        conv.feed_audio(room.mic())
        t += FRAME / 16000
        await asyncio.sleep(max(0.0, t - time.monotonic()))


def make_conversation(
    engines: Engines,
    sink: NullSink,
    aec: bool,
    wake_gate: WakeGate | None = None,
    wake_detector: WakeDetector | None = None,
    overrides: dict[str, dict[str, object]] | None = None,
) -> tuple[Conversation, ev.Subscription]:
    """The daemon's own settings for a device with `[audio] echo_cancel = true`; without
    the canceller it barges in under the very same settings (the control). `overrides`:
    more config sections (the barge-in bench tries settings with them)."""
    sections: dict[str, dict[str, object]] = {k: dict(v) for k, v in (overrides or {}).items()}
    sections.setdefault("audio", {})["echo_cancel"] = True
    config = config_from_mapping(sections)
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
    room: Room | None = None
    user_sample: int | None = None  # where on the room's clock the recording starts
    early_holds: int = 0  # the bot's voice held on a clear frame (pipeline/early_hold.py)


async def bot_talks_in_room(
    engines: Engines,
    aec: bool,
    user: bytes | None = None,
    secs: float = 14,
    overrides: dict[str, dict[str, object]] | None = None,
    script: str | None = None,
    user_after: float = USER_AFTER_SECS,
) -> RoomRun:
    """The bot tells a story (or says `script`, without the LLM: the same words every
    run) for `secs` from its first word (the microphone runs from the request on); the
    user, if given, speaks `user_after` seconds into it."""
    room = Room()
    conv, sub = make_conversation(engines, RoomSink(room), aec, overrides=overrides)
    stop = asyncio.Event()
    mic = asyncio.create_task(run_mic(conv, room, secs + BOT_START_LIMIT_SECS, stop))
    if script is None:
        await conv.send_text(STORY)
    else:
        await conv.say(script)
    async with asyncio.timeout(BOT_START_LIMIT_SECS):
        while not any(isinstance(e, ev.BotStartedSpeaking) for e in drain(sub)):
            await asyncio.sleep(0.05)
    asyncio.get_running_loop().call_later(secs, stop.set)
    user_at = user_sample = None
    if user is not None:
        user_sample = room.clock + int(user_after * 16000)
        room.say(user, user_after)
        user_at = time.monotonic() + user_after
    await mic
    events = drain(sub)  # before close(), which interrupts whatever is still being said
    early = conv.over_talk.early.holds
    await conv.close()
    return RoomRun(events, user_at, room, user_sample, early)

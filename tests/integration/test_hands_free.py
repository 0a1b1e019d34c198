"""Hands-free with the real engines: echo cancellation in a simulated room, the wake
word with its follow-up window, push-to-talk, and a sound device that fails."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from bench.room import FRAME, bot_talks_in_room, drain
from bench.room import make_conversation as make
from rtvi_edge import events as ev
from rtvi_edge.audio.sink import NullSink
from rtvi_edge.audio.supervisor import LocalAudioSupervisor
from rtvi_edge.audio.wake import WakeWordDetector
from rtvi_edge.audio.wav import read_wav
from rtvi_edge.config import AudioConfig, WakeMode
from rtvi_edge.engines.hub import Engines
from rtvi_edge.pipeline.conversation import Conversation
from rtvi_edge.pipeline.wake_gate import WakeGate
from tests.fakes import UnpluggedOnce
from tests.helpers import feed

pytestmark = pytest.mark.integration


async def test_echo_cancellation_keeps_the_bot_from_hearing_itself(engines: Engines) -> None:
    events = (await bot_talks_in_room(engines, aec=True)).events
    assert not any(isinstance(e, ev.UserStartedSpeaking | ev.BotInterrupted) for e in events)


async def test_without_echo_cancellation_the_bot_hears_itself(engines: Engines) -> None:
    # the control experiment: the same room without AEC barges in on itself
    events = (await bot_talks_in_room(engines, aec=False)).events
    assert any(isinstance(e, ev.UserStartedSpeaking) for e in events)


async def test_user_speech_over_the_bot_still_interrupts(
    engines: Engines, speech: Callable[[str], Path]
) -> None:
    user = read_wav(speech("Stop talking please, I have a question"), 16000)
    events = (await bot_talks_in_room(engines, aec=True, user=user)).events
    assert any(isinstance(e, ev.UserStartedSpeaking) for e in events)
    assert any(isinstance(e, ev.BotInterrupted) for e in events)


async def feed_wav(conv: Conversation, pcm: bytes, tail_secs: float = 1.0) -> None:
    await feed(conv, pcm + bytes(int(tail_secs * 16000) * 2), FRAME, realtime=True)


async def test_wake_word_then_question_then_follow_up(
    engines: Engines, speech: Callable[[str], Path]
) -> None:
    gate = WakeGate(WakeMode.WAKE_WORD, listen_secs=6, follow_up_secs=6)
    conv, sub = make(engines, NullSink(22050), False, gate, WakeWordDetector("okay_nabu"))
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
    gate = WakeGate(WakeMode.PUSH_TO_TALK, listen_secs=6, follow_up_secs=0)
    conv, sub = make(engines, NullSink(22050), False, gate)
    question = read_wav(speech("What is two plus two?"), 16000)
    await feed_wav(conv, question)
    assert not any(isinstance(e, ev.UserStartedSpeaking) for e in drain(sub))
    conv.wake("push")
    await feed_wav(conv, question)
    events = drain(sub)
    assert any(isinstance(e, ev.WakeDetected) and e.source == "push" for e in events)
    assert any(isinstance(e, ev.UserStartedSpeaking) for e in events)
    await conv.close()


async def test_a_failing_device_is_reported_and_reopened(engines: Engines) -> None:
    conv, sub = make(engines, NullSink(22050), aec=False)
    device = UnpluggedOnce(20, FRAME * 2, 0.001, rate=22050)
    sup = LocalAudioSupervisor(AudioConfig(reopen_secs=0.5), conv, opener=device)  # type: ignore[arg-type]
    task = asyncio.create_task(sup.run())
    async with asyncio.timeout(10):
        await device.reopened.wait()
    errors = [e for e in drain(sub) if isinstance(e, ev.ErrorEvent)]
    assert len(errors) == 1 and "unplugged" in errors[0].message
    assert device.opened[0].closed and conv.sink is not None
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await conv.close()

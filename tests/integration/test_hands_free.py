"""Hands-free with the real engines: echo cancellation in a simulated room, the wake
word with its follow-up window, push-to-talk, and a sound device that fails."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from bench import human_set
from bench.barge_in_eval import SCRIPT, human_items
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
    run = await bot_talks_in_room(engines, aec=True)
    assert not any(isinstance(e, ev.UserStartedSpeaking | ev.BotInterrupted) for e in run.events)
    assert run.early_holds == 0  # not even for a moment: no stutter


async def test_without_echo_cancellation_the_bot_hears_itself(engines: Engines) -> None:
    # the control experiment: the same room without AEC barges in on itself
    events = (await bot_talks_in_room(engines, aec=False)).events
    assert any(isinstance(e, ev.UserStartedSpeaking) for e in events)


async def test_user_speech_over_the_bot_still_interrupts(
    engines: Engines, speech: Callable[[str], Path]
) -> None:
    user = read_wav(speech("Stop talking please, I have a question"), 16000)
    run = await bot_talks_in_room(engines, aec=True, user=user)
    assert run.early_holds >= 1  # quiet on the first syllable, then the rule confirms
    assert any(isinstance(e, ev.UserStartedSpeaking) for e in run.events)
    assert any(isinstance(e, ev.BotInterrupted) for e in run.events)


@pytest.mark.skipif(not human_set.available(), reason="run scripts/fetch-human-speech")
async def test_a_recorded_voice_over_the_bot_holds_it_then_stops_it(engines: Engines) -> None:
    # A real speaker (CMU ARCTIC) talks over the story; the bot goes quiet before the
    # barge-in rule has heard enough (an early hold), then the turn is cancelled.
    arctic = next(i for i in human_items() if i.name == "arctic-arctic_a0009")
    run = await bot_talks_in_room(
        engines, aec=True, user=arctic.pcm, secs=6, script=SCRIPT, user_after=3.0
    )
    assert run.early_holds >= 1
    assert any(isinstance(e, ev.BotInterrupted) for e in run.events)


async def test_a_backchannel_over_the_bot_in_the_room_does_not_stop_it(
    engines: Engines, speech: Callable[[str], Path]
) -> None:
    # Whether "Yeah" is a backchannel is decided on Whisper's words for echo-cancelled
    # audio; on a loaded machine the canceller's residue turns it into more than a
    # backchannel about one time in several (bench/barge_in_eval.py reports that rate).
    # So: a second try, never more; both failing is a regression.
    yeah = read_wav(speech("Yeah."), 16000)
    tries: list[list[tuple[str, str]]] = []
    for _ in range(2):
        run = await bot_talks_in_room(
            engines, aec=True, user=yeah, secs=6, script=SCRIPT, user_after=3.0
        )
        heard = [i for i, e in enumerate(run.events) if isinstance(e, ev.UserStartedSpeaking)]
        assert heard  # the voice was heard (and held the bot)
        went_on = any(isinstance(e, ev.BotSpeechProgress) for e in run.events[heard[-1] :])
        if went_on and not any(isinstance(e, ev.BotInterrupted) for e in run.events):
            return
        tries.append([(type(e).__name__, str(getattr(e, "text", ""))) for e in run.events])
    pytest.fail(f"a backchannel stopped the bot twice: {tries}")


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

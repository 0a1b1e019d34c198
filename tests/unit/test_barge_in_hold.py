"""Barge-in at human speed: a voice over the bot holds its audio on the first clear
frame; a blip or a backchannel lets it go on, a real interruption stops it (fake
engines; the timings are in bench/barge_in_eval.py)."""

from __future__ import annotations

import asyncio

from rtvi_edge import events as ev
from rtvi_edge.audio.sink import NullSink
from rtvi_edge.config import config_from_mapping
from rtvi_edge.pipeline.backchannel import is_backchannel
from rtvi_edge.pipeline.early_hold import EarlyHold
from tests.fakes import FakeLlm, FakeTts, fake_engines, silence, speech
from tests.helpers import drain, feed, next_event
from tests.unit.test_conversation import build

ANSWER = " ".join(f"word{i}" for i in range(40))
BARGE_IN = {"audio": {"echo_guard": "barge-in"}, "turn": {"enabled": False}}


class Turn:
    committed = True
    speaking = True

    def __init__(self) -> None:
        self.held = False

    def hold(self) -> None:
        self.held = True

    def resume(self) -> None:
        self.held = False


async def test_a_clear_frame_holds_and_without_a_turn_it_goes_on() -> None:
    turn, confirmed = Turn(), [False]
    early = EarlyHold(lambda: 0.05, lambda: confirmed[0])
    early.voice(turn)  # type: ignore[arg-type]
    assert turn.held and early.holding
    await asyncio.sleep(0.1)
    assert not turn.held and early.released == 1


async def test_a_confirmed_voice_stays_held_for_whoever_decides() -> None:
    turn = Turn()
    early = EarlyHold(lambda: 0.05, lambda: True)
    early.voice(turn)  # type: ignore[arg-type]
    early.confirmed()
    await asyncio.sleep(0.1)
    assert turn.held and early.released == 0  # the backchannel rule resumes or stops it


async def test_off_or_a_turn_not_yet_heard_is_never_held() -> None:
    turn = Turn()
    EarlyHold(lambda: 0.0, lambda: False).voice(turn)  # type: ignore[arg-type]
    assert not turn.held
    turn.speaking = False
    EarlyHold(lambda: 0.3, lambda: False).voice(turn)  # type: ignore[arg-type]
    assert not turn.held


def test_backchannels_are_told_from_requests() -> None:
    for said in ("Mm-hmm.", "Yeah.", "Yeah. Yeah. Yeah. Yeah. Yeah", "Okay, okay.", "I see.", ""):
        assert is_backchannel(said) or not said, said
    for said in ("Wait.", "Stop talking.", "Yeah, but why?", "Yeah yeah, what time is it?"):
        assert not is_backchannel(said), said


async def _bot_talking(script: list[str]):  # type: ignore[no-untyped-def]
    engines = fake_engines(script, llm=FakeLlm(lambda _m: ANSWER), tts=FakeTts(0.01))
    conv, sub = build(engines, config_from_mapping(BARGE_IN), sink=NullSink(16000), tools=False)
    await feed(conv, speech(0.6) + silence(0.5), realtime=True)
    await next_event(sub, ev.BotStartedSpeaking)
    return conv, sub


async def test_a_voice_over_the_bot_holds_it_before_the_barge_in_rule_has_decided() -> None:
    conv, sub = await _bot_talking(["tell me a story"])
    turn = conv.turns.current
    assert turn is not None
    await feed(conv, speech(0.064), realtime=True)  # two frames: under barge_in_secs
    assert turn.held  # quiet at once
    assert not any(isinstance(e, ev.UserStartedSpeaking) for e in drain(sub))
    await feed(conv, silence(0.5), realtime=True)  # a blip: it goes on where it held
    assert not turn.held
    await conv.wait_idle(20)
    events = drain(sub)
    assert not any(isinstance(e, ev.BotInterrupted | ev.UserStartedSpeaking) for e in events)
    assert conv.context.turns[-1] == {"role": "assistant", "content": ANSWER}
    assert conv.over_talk.early.holds == 1 and conv.over_talk.early.released == 1
    await conv.close()


async def test_a_backchannel_holds_the_bot_then_lets_it_finish() -> None:
    conv, sub = await _bot_talking(["tell me a story", "Mm-hmm."])
    turn = conv.turns.current
    assert turn is not None
    await feed(conv, speech(0.3), realtime=True)
    assert turn.held
    await feed(conv, silence(0.8), realtime=True)
    await conv.wait_idle(20)
    assert not any(isinstance(e, ev.BotInterrupted) for e in drain(sub))
    assert conv.context.turns[-1] == {"role": "assistant", "content": ANSWER}  # all of it
    await conv.close()


async def test_a_real_interruption_holds_then_stops_the_bot() -> None:
    conv, sub = await _bot_talking(["tell me a story", "Wait, what time is it?"])
    turn = conv.turns.current
    assert turn is not None
    await feed(conv, speech(0.1), realtime=True)
    assert turn.held
    await feed(conv, speech(0.4) + silence(0.8), realtime=True)
    await next_event(sub, ev.BotInterrupted)
    await conv.close()

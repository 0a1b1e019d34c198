"""Knowing when a person has more to say: the language model's end-of-turn
probability in the endpointer, dynamic endpointing, and a premature answer taken
back when the user goes on (fake engines; the real models are in the integration
tests and the bench)."""

from __future__ import annotations

from rtvi_edge import events as ev
from rtvi_edge.audio.sink import NullSink
from rtvi_edge.config import config_from_mapping
from rtvi_edge.pipeline.adaptive_wait import AdaptiveWait
from rtvi_edge.pipeline.continuation import Answered, Continuation
from rtvi_edge.pipeline.endpointing import (
    Endpointer,
    EndpointParams,
    Signal,
    TextEou,
    TurnVerdict,
)
from rtvi_edge.pipeline.eou_fusion import fused_probability
from tests.fakes import FakeLlm, FakeTts, fake_engines, silence, speech
from tests.helpers import drain, feed, next_event
from tests.unit.test_conversation import build

FRAME = 0.032
TURN = EndpointParams(turn_model=True, turn_llm=True, turn_llm_weight=1.0, turn_llm_neutral=0.1)


def frames(ep: Endpointer, probs: list[float]) -> list[Signal]:
    out: list[Signal] = []
    for p in probs:
        out += ep.feed(p, FRAME)
    return out


def test_fusion_adds_the_models_in_logits() -> None:
    assert fused_probability(None, None, 1.0, 0.1) is None
    alone = fused_probability(0.6, None, 1.0, 0.1)
    assert alone is not None and abs(alone - 0.6) < 1e-9  # the audio model alone, as before
    neutral = fused_probability(0.6, 0.1, 1.0, 0.1)
    assert neutral is not None and abs(neutral - 0.6) < 1e-9  # the neutral text pulls nowhere
    low = fused_probability(0.6, 0.001, 1.0, 0.1)
    high = fused_probability(0.6, 0.9, 1.0, 0.1)
    assert low is not None and high is not None and low < 0.05 < 0.9 < high


def test_a_text_that_goes_on_holds_a_pause_the_audio_calls_unsure() -> None:
    ep = Endpointer(TURN)
    frames(ep, [0.9] * 10 + [0.0])
    pause = ep.pause_id
    assert ep.step(TextEou(pause, 0.001)) == []  # "what is the weather like in"
    frames(ep, [0.0] * 3)
    assert ep.step(TurnVerdict(pause, 0.5)) == []  # unsure alone would end at 0.288 s
    assert Signal.ENDED not in frames(ep, [0.0] * 30)  # held for the long allowance (1.6 s)
    assert Signal.ENDED in frames(ep, [0.0] * 25)


def test_a_text_alone_never_ends_a_turn_but_a_sure_pair_does_at_once() -> None:
    ep = Endpointer(TURN)
    frames(ep, [0.9] * 10 + [0.0])
    pause = ep.pause_id
    assert ep.step(TextEou(pause, 0.99)) == []
    frames(ep, [0.0] * 3)
    assert ep.step(TurnVerdict(pause, 0.65)) == [Signal.ENDED]  # together: complete


def test_no_pause_ends_before_the_words_and_the_llm_s_reading_of_them() -> None:
    params = EndpointParams(turn_model=True, turn_llm=True, turn_max_secs=1.6)
    ep = Endpointer(params)
    frames(ep, [0.9] * 10 + [0.0])
    ep.step(TurnVerdict(ep.pause_id, 0.99))  # the audio model is sure...
    assert Signal.ENDED not in frames(ep, [0.0] * 20)  # ...the words are not there yet
    assert ep.step(TextEou(ep.pause_id, 0.5)) == [Signal.ENDED]


def test_a_user_who_went_on_after_a_long_pause_gets_longer_unsure_pauses() -> None:
    wait = AdaptiveWait()
    assert wait.wait(0.288, 1.6) == 0.288
    wait.resumed(0.1)  # a gap between words: nothing learnt
    assert wait.wait(0.288, 1.6) == 0.288
    wait.resumed(0.9)
    assert abs(wait.wait(0.288, 1.6) - 1.15) < 1e-9
    wait.resumed(3.0)
    assert wait.wait(0.288, 1.6) == 1.6  # never beyond the longest allowed pause
    for _ in range(12):
        wait.turn_ended(had_pause=False)  # fades with turns that had no such pause
    assert wait.wait(0.288, 1.6) == 0.288


def test_the_endpointer_learns_from_resumed_pauses() -> None:
    ep = Endpointer(EndpointParams(turn_model=True))
    frames(ep, [0.9] * 10 + [0.0] * 4)
    ep.step(TurnVerdict(ep.pause_id, 0.01))  # "unfinished": the pause may go on
    assert Signal.ENDED not in frames(ep, [0.0] * 18)  # ~0.7 s of silence in all
    frames(ep, [0.9] * 5)  # the user goes on
    assert ep.adapt.learned_secs > 0.6
    ep.step(TurnVerdict(ep.pause_id, 0.5))  # a stale verdict: ignored
    frames(ep, [0.0])
    ep.step(TurnVerdict(ep.pause_id, 0.5))  # unsure: now waits longer than 0.288 s
    assert Signal.ENDED not in frames(ep, [0.0] * 12)


def test_continuation_joins_only_within_the_window() -> None:
    c = Continuation(window_secs=2.0)
    c.committed(Answered("remind me to call", 0, at=10.0, speech_end_at=9.7))
    assert c.speech_started(now=13.0) is None  # too late: a new turn
    c.committed(Answered("remind me to call", 0, at=10.0, speech_end_at=9.7))
    taken = c.speech_started(now=11.0)
    assert taken is not None and c.joining
    assert c.preview("my sister") == "remind me to call my sister"
    assert c.join("my sister on Sunday") == "remind me to call my sister on Sunday"
    assert not c.joining and c.join("next") == "next"


async def test_a_premature_answer_the_user_talks_through_leaves_no_trace() -> None:
    long_answer = " ".join(f"word{i}" for i in range(80))
    llm = FakeLlm(lambda m: long_answer if "rome" not in m[-1]["content"] else "Done.")
    engines = fake_engines(["tell me about", "the history of rome"], llm=llm, tts=FakeTts(0.01))
    config = config_from_mapping({"audio": {"echo_guard": "barge-in"}, "turn": {"enabled": False}})
    conv, sub = build(engines, config, sink=NullSink(16000), tools=False)
    await feed(conv, speech(0.6) + silence(0.5), realtime=True)
    await next_event(sub, ev.BotStartedSpeaking)
    # the user goes on: this user's pauses are now waited for longer (dynamic endpointing)
    await feed(conv, speech(0.6) + silence(2.0), realtime=True)
    await conv.wait_idle(10)
    events = drain(sub)
    assert any(isinstance(e, ev.BotInterrupted) for e in events)
    finals = [e.text for e in events if isinstance(e, ev.UserTranscription) and e.final]
    assert finals == ["tell me about the history of rome"]  # one final for the whole
    assert conv.context.turns == [
        {"role": "user", "content": "tell me about the history of rome"},
        {"role": "assistant", "content": "Done."},
    ]
    assert llm.calls[-1][-1]["content"] == "tell me about the history of rome"
    assert conv.listener.endpointer.adapt.learned_secs > 0.3  # and it waits longer next time
    await conv.close()


async def test_speech_long_after_the_answer_began_is_a_new_turn() -> None:
    long_answer = " ".join(f"word{i}" for i in range(120))
    llm = FakeLlm(lambda _m: long_answer)
    engines = fake_engines(["tell me a story", "stop"], llm=llm, tts=FakeTts(0.01))
    config = config_from_mapping(
        {"audio": {"echo_guard": "barge-in"}, "turn": {"enabled": False, "recover": True}}
    )
    conv, sub = build(engines, config, sink=NullSink(16000), tools=False)
    await feed(conv, speech(0.6) + silence(0.5), realtime=True)
    await next_event(sub, ev.BotStartedSpeaking)
    await feed(conv, silence(2.2), realtime=True)
    await feed(conv, speech(0.6) + silence(1.0), realtime=True)
    interrupted = await next_event(sub, ev.BotInterrupted)
    assert interrupted.spoken_text
    await conv.wait_idle(10)
    roles = [t["role"] for t in conv.context.turns]
    assert roles[:3] == ["user", "assistant", "user"]  # what was heard stays
    await conv.close()


async def test_a_backchannel_over_the_bot_holds_its_voice_but_does_not_stop_it() -> None:
    answer = " ".join(f"word{i}" for i in range(40))
    llm = FakeLlm(lambda _m: answer)
    engines = fake_engines(["tell me a story", "Mm-hmm."], llm=llm, tts=FakeTts(0.01))
    config = config_from_mapping({"audio": {"echo_guard": "barge-in"}, "turn": {"enabled": False}})
    conv, sub = build(engines, config, sink=NullSink(16000), tools=False)
    await feed(conv, speech(0.6) + silence(0.5), realtime=True)
    await next_event(sub, ev.BotStartedSpeaking)
    await feed(conv, speech(0.3) + silence(0.8), realtime=True)
    await conv.wait_idle(20)
    events = drain(sub)
    assert not any(isinstance(e, ev.BotInterrupted) for e in events)
    assert conv.context.turns[-1] == {"role": "assistant", "content": answer}  # all of it
    assert [t["role"] for t in conv.context.turns] == ["user", "assistant"]  # no user turn
    await conv.close()


def test_words_the_user_went_on_after_before_the_answer_lead_the_next_ones() -> None:
    c = Continuation()
    c.defer("unless to be rather cold hearted", speech_end_at=1.0)
    assert c.joining and c.preview("and selfish") == "unless to be rather cold hearted and selfish"
    assert c.join("and selfish") == "unless to be rather cold hearted and selfish"


def test_the_words_re_decide_an_unfinished_verdict_made_on_the_audio_alone() -> None:
    # On a busy CPU the audio verdict may come before the transcript: "unfinished" on
    # the audio alone is not final once the LLM reads the words as a finished sentence.
    ep = Endpointer(TURN)
    frames(ep, [0.9] * 10 + [0.0] * 4)
    ep.step(TurnVerdict(ep.pause_id, 0.04))
    assert ep.verdict.value == "incomplete"
    ep.step(TextEou(ep.pause_id, 0.9))
    assert ep.verdict.value != "incomplete"

"""A finished question is answered by the speculation that began in the pause, not by an
answer begun again after the decision; each turn's stages are logged for the bench
(`turn timeline`, bench/turn_stages.py). Fake engines; the timings are the bench's."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import pytest

from rtvi_edge import events as ev
from rtvi_edge.assembly import Assembly
from rtvi_edge.audio.sink import NullSink
from rtvi_edge.config import config_from_mapping
from rtvi_edge.engines.hub import EngineHub
from rtvi_edge.engines.turn_smart import SharedTurnModel
from rtvi_edge.pipeline.turn_timeline import TurnTimeline
from tests.fakes import FakeLlm, FakeTts, fake_engines, silence, speech
from tests.helpers import feed, next_event


class SlowEouLlm(FakeLlm):
    """Reads every text as finished, but only after `eou_secs` (a busy CPU)."""

    def __init__(self, eou_secs: float) -> None:
        super().__init__(lambda _m: "Paris is the capital.")
        self.eou_secs = eou_secs

    def end_of_turn_probability(self, messages: list[dict[str, Any]]) -> float | None:
        time.sleep(self.eou_secs)
        return 0.9


class SureTurnModel(SharedTurnModel):
    async def judge(self, pcm: bytes) -> float | None:
        return 0.99  # complete: the decision waits only for the LLM's probability


async def test_the_probability_that_ends_the_turn_finds_the_answer_already_started(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="rtvi_edge.pipeline.turn_metrics")
    llm = SlowEouLlm(eou_secs=0.3)
    engines = fake_engines(["What is the capital of France?"], llm=llm, tts=FakeTts(0.001))
    config = config_from_mapping({"turn": {"enabled": True, "llm": True}})
    bus = ev.EventBus()
    hub = EngineHub(engines, config, turn_model=SureTurnModel())
    conv = Assembly(lambda: config, hub, bus, None).chat(NullSink(16000))
    sub = bus.subscribe()
    await feed(conv, speech(0.6) + silence(1.0), realtime=True)
    await next_event(sub, ev.BotStartedSpeaking)
    await conv.wait_idle(10)
    await conv.close()
    assert len(llm.calls) == 1  # one answer
    lines = [r.getMessage() for r in caplog.records if "turn timeline" in r.getMessage()]
    assert len(lines) == 1
    timeline = json.loads(lines[0].split("turn timeline ", 1)[1])
    ms, values = timeline["ms"], timeline["values"]
    assert "restarted" not in ms  # the speculation answered: not begun again
    assert ms["speculation"] <= ms["ended"] <= ms["committed"] <= ms["first_audio"]
    assert ms["verdict"] < ms["eou"]  # the probability was what the decision waited for
    assert values["ended"] == "complete/closed" and values["eou"] == 0.9


def test_a_timeline_keeps_the_first_time_of_each_stage() -> None:
    t = TurnTimeline()
    t.mark("verdict", 0.2, at=10.1)
    t.mark("verdict", 0.9, at=10.3)  # a recheck does not move it
    t.mark("paused", at=10.0)
    assert t.relative_ms(10.0) == {"paused": 0.0, "verdict": 100.0}
    assert t.values == {"verdict": 0.2}

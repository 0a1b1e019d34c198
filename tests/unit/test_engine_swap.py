"""An engine swap (update-config, a reload) reaches every live conversation at its next
turn, each kind of engine: the conversation reads the hub's engines per turn, and
opens a stream of the new VAD between utterances (fakes: orchestration only)."""

from __future__ import annotations

import dataclasses

from rtvi_edge import events as ev
from rtvi_edge.assembly import Assembly
from rtvi_edge.audio.sink import NullSink
from rtvi_edge.config import Config, replace_section
from rtvi_edge.engines.hub import EngineHub
from rtvi_edge.engines.vad import EnergyVad
from rtvi_edge.pipeline.conversation import Conversation
from tests.fakes import FakeLlm, FakeStt, FakeTts, FakeVad, fake_engines, silence, speech
from tests.helpers import feed, next_event

TURN = silence(0.2) + speech(0.6) + silence(1.0)


def live(
    script: list[str] | None = None, speaker: bool = False
) -> tuple[Conversation, EngineHub, ev.Subscription]:
    """`speaker`: answers are spoken (else text only, so the mic is never deaf)."""
    config = replace_section(Config(), "turn", enabled=False)  # the silence ends the turn
    bus = ev.EventBus()
    hub = EngineHub(fake_engines(script), config)
    conv = Assembly(lambda: config, hub, bus, None).chat(NullSink(16000) if speaker else None)
    return conv, hub, bus.subscribe()


def swap(hub: EngineHub, **engines: object) -> None:
    """What `EngineHub.reconfigure` ends with: the new set, for everyone at once."""
    hub.engines = dataclasses.replace(hub.engines, **engines)  # type: ignore[arg-type]


async def final_transcript(sub: ev.Subscription) -> str:
    while not (t := await next_event(sub, ev.UserTranscription)).final:
        pass
    return t.text


async def test_an_llm_swap_answers_the_next_turn() -> None:
    conv, hub, _sub = live()
    await conv.send_text("one")
    await conv.wait_idle(5)
    new = FakeLlm(lambda _m: "From the new model.")
    swap(hub, llm=new)
    await conv.send_text("two")
    await conv.wait_idle(5)
    assert len(new.calls) == 1
    assert conv.context.turns[-1]["content"] == "From the new model."
    await conv.close()


async def test_a_tts_swap_speaks_the_next_turn() -> None:
    conv, hub, _sub = live(speaker=True)
    old = hub.engines.tts
    await conv.send_text("one")
    await conv.wait_idle(5)
    new = FakeTts()
    swap(hub, tts=new)
    await conv.send_text("two")
    await conv.wait_idle(5)
    assert new.spoken and len(old.spoken) == 1  # type: ignore[attr-defined]
    await conv.close()


async def test_an_stt_swap_hears_the_next_utterance() -> None:
    conv, hub, sub = live(["from the old stt"])
    await feed(conv, TURN)
    assert await final_transcript(sub) == "from the old stt"
    await conv.wait_idle(5)
    swap(hub, stt=FakeStt(["from the new stt"]))
    await feed(conv, TURN)
    assert await final_transcript(sub) == "from the new stt"
    await conv.close()


async def test_a_vad_swap_judges_the_next_utterance() -> None:
    conv, hub, sub = live(["one", "two"])
    await feed(conv, TURN)
    await final_transcript(sub)
    await conv.wait_idle(5)
    new = FakeVad()
    swap(hub, vad=new)
    await feed(conv, TURN)
    assert await final_transcript(sub) == "two"
    assert len(new.streams) == 1 and new.streams[0].frames > 0  # the new VAD heard it
    await conv.close()


async def test_a_vad_swap_through_the_hub_reaches_a_live_conversation() -> None:
    """The real path: `reconfigure` builds the engine the new config names."""
    conv, hub, _sub = live()
    await hub.reconfigure(replace_section(hub.config, "vad", engine="energy"))
    assert isinstance(hub.engines.vad, EnergyVad)
    await feed(conv, silence(0.1))
    assert conv._vad is hub.engines.vad  # the listener's stream is the new VAD's
    await conv.close()

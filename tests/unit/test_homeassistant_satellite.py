"""The satellite's run state machine with a fake conversation and a fake HA link
(orchestration only; tests/integration/test_homeassistant.py runs the real thing)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from aioesphomeapi import VoiceAssistantEventType

from rtvi_edge import events as ev
from rtvi_edge.config import HaPipeline, HomeAssistantConfig, WakeMode, config_from_mapping
from rtvi_edge.homeassistant import satellite as sat_mod
from rtvi_edge.homeassistant.messages import Message, pb
from rtvi_edge.homeassistant.satellite import RunState, Satellite
from rtvi_edge.homeassistant.server import effective_pipeline
from rtvi_edge.pipeline.hands_free import WakeDetector
from rtvi_edge.pipeline.listener import Utterance
from rtvi_edge.pipeline.wake_gate import WakeGate

E = VoiceAssistantEventType
FRAME = b"\x01\x00" * 512


class FakeLink:
    peer_host = "127.0.0.1"

    def __init__(self) -> None:
        self.sent: list[Message] = []

    def send(self, *msgs: Message) -> None:
        self.sent.extend(msgs)

    def take(self) -> list[Message]:
        out, self.sent = self.sent, []
        return out


class FakeHost:
    """The conversation as the satellite sees it (`HandoffHost`)."""

    session_id = "local"
    sink = None
    user_speaking = False
    wake_word: str | None = "Alexa"

    def __init__(self, gate: WakeGate | None) -> None:
        self.gate = gate
        self.muted = False
        self.volume = 1.0
        self.states: list[str] = []
        self.state = ev.BotState.IDLE
        self.events: list[ev.Event] = []
        self.said: list[str] = []

    @property
    def listens_always(self) -> bool:
        return self.gate is None

    def set_muted(self, muted: bool) -> None:
        self.muted = muted

    def set_volume(self, volume: float) -> None:
        self.volume = volume

    def remote_state(self, state: ev.BotState) -> None:
        self.state = ev.BotState(state)
        self.states.append(state)

    def publish(self, event: ev.Event) -> None:
        self.events.append(event)

    def hold_wake_gate(self) -> None:
        if self.gate is not None:
            self.gate.turn_started()

    def sleep_wake_gate(self) -> None:
        if self.gate is not None:
            self.gate.sleep()

    def set_wake_detector(self, detector: WakeDetector) -> None:
        self.wake_word = detector.name

    def add_assistant_text(self, text: str) -> None:
        self.said.append(text)

    async def interrupt(self) -> bool:
        return False


def event(kind: E, **data: str) -> Any:
    msg = pb.VoiceAssistantEventResponse(event_type=kind)
    msg.data.extend([pb.VoiceAssistantEventData(name=k, value=v) for k, v in data.items()])
    return msg


def make(pipeline: str, gate: WakeGate | None = None) -> tuple[Satellite, FakeHost, FakeLink]:
    conv = FakeHost(gate)
    sat = Satellite(conv, HomeAssistantConfig(max_listen_secs=5), HaPipeline(pipeline))
    link = FakeLink()
    sat.attach(link, api_audio=True)
    return sat, conv, link


async def test_a_woken_turn_streams_to_ha_then_the_device_sleeps_again() -> None:
    gate = WakeGate(WakeMode.WAKE_WORD)
    gate.wake(time.monotonic())
    sat, conv, link = make("homeassistant", gate)
    assert sat.takes_audio(FRAME) and sat.takes_audio(FRAME)
    (request,) = link.take()
    assert request.start and request.wake_word_phrase == "Alexa"
    assert sat.state is RunState.STARTING and gate.busy
    sat.on_response(pb.VoiceAssistantResponse(port=0))
    assert [m.data for m in link.take()] == [FRAME, FRAME]  # what came before HA was ready
    assert sat.takes_audio(FRAME)
    assert link.take()[0].data == FRAME
    sat.on_event(event(E.VOICE_ASSISTANT_STT_VAD_END))
    (end,) = link.take()
    assert end.end and sat.state is RunState.WAITING
    assert not gate.hears(time.monotonic())  # a wake word now is a barge-in
    sat.on_event(event(E.VOICE_ASSISTANT_STT_END, text="hello"))
    sat.on_event(event(E.VOICE_ASSISTANT_RUN_END))
    assert sat.state is RunState.IDLE and conv.states[-1] == "idle"
    assert any(isinstance(e, ev.UserTranscription) and e.text == "hello" for e in conv.events)
    await sat.close()


async def test_ha_silent_or_failing_ends_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sat_mod, "START_TIMEOUT_SECS", 0.01)
    sat, conv, link = make("homeassistant", WakeGate(WakeMode.WAKE_WORD))
    sat.takes_audio(FRAME)
    await asyncio.sleep(0.05)
    assert sat.state is RunState.IDLE  # HA never answered the run request
    sat.takes_audio(FRAME)
    sat.on_response(pb.VoiceAssistantResponse(error=True))
    assert sat.state is RunState.IDLE
    sat.takes_audio(FRAME)
    sat.on_response(pb.VoiceAssistantResponse(port=0))
    link.take()
    sat.on_event(event(E.VOICE_ASSISTANT_ERROR, code="stt-no-text-recognized", message="No text"))
    assert sat.state is RunState.WAITING and not any(m.end for m in link.take())
    assert any(isinstance(e, ev.ErrorEvent) and "No text" in e.message for e in conv.events)
    sat.on_event(event(E.VOICE_ASSISTANT_RUN_END))
    assert sat.state is RunState.IDLE
    await sat.close()


async def test_a_late_run_end_does_not_end_the_next_run() -> None:
    sat, _conv, _link = make("homeassistant", WakeGate(WakeMode.WAKE_WORD))
    sat.takes_audio(FRAME)
    sat.on_event(event(E.VOICE_ASSISTANT_RUN_END))
    assert sat.state is RunState.STARTING
    await sat.close()


async def test_local_first_sends_the_audio_already_heard() -> None:
    sat, conv, link = make("local-first")
    utt = Utterance(started_at=time.monotonic())
    for _ in range(5):
        assert not sat.takes_audio(FRAME)  # the device listens itself
    assert sat.answers_turns
    assert not sat.takes_turn("typed text", None)  # typed turns stay on the device
    assert sat.takes_turn("turn off the kitchen light", utt)
    (request,) = link.take()
    assert request.start and request.wake_word_phrase == ""
    sat.on_response(pb.VoiceAssistantResponse(port=0))
    sent = link.take()
    assert b"".join(m.data for m in sent[:-1]) == FRAME * 5 and sent[-1].end
    assert sat.state is RunState.WAITING and conv.states[0] == "thinking"
    await sat.close()


async def test_without_ha_every_turn_stays_on_the_device() -> None:
    sat, _conv, link = make("local-first")
    sat.detach(link)
    assert not sat.answers_turns and not sat.takes_turn("x", Utterance(started_at=0.0))
    ha_mode, _conv, link = make("homeassistant", WakeGate(WakeMode.WAKE_WORD))
    ha_mode.detach(link)
    assert not ha_mode.takes_audio(FRAME)
    await sat.close()
    await ha_mode.close()


async def test_ha_vanishing_mid_stream_ends_the_turn() -> None:
    sat, conv, link = make("homeassistant", WakeGate(WakeMode.WAKE_WORD))
    sat.takes_audio(FRAME)
    sat.on_response(pb.VoiceAssistantResponse(port=0))
    sat.detach(link)
    assert sat.state is RunState.IDLE and conv.states[-1] == "idle"
    assert not sat.takes_audio(FRAME)
    await sat.close()


def test_the_homeassistant_pipeline_needs_to_know_when_a_turn_starts() -> None:
    ha = {"homeassistant": {"pipeline": "homeassistant"}}
    assert effective_pipeline(config_from_mapping(ha)) == "local-first"  # [wake] mode "always"
    woken = config_from_mapping({**ha, "wake": {"mode": "wake_word"}})
    assert effective_pipeline(woken) == "homeassistant"


async def test_local_keeps_every_turn_but_ha_may_start_a_conversation() -> None:
    sat, _conv, link = make("local")
    assert not sat.takes_audio(FRAME) and not sat.answers_turns
    assert not sat.takes_turn("turn off the kitchen light", Utterance(started_at=0.0))
    sat._begin(wake_phrase="")  # what an announcement with start_conversation does
    sat.on_response(pb.VoiceAssistantResponse(port=0))
    link.take()
    assert sat.takes_audio(FRAME) and link.take()[0].data == FRAME
    await sat.close()


async def test_a_pipeline_ha_accepts_but_never_runs_ends_the_turn(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # (HA does this when its Assist pipeline has no speech-to-text engine)
    monkeypatch.setattr(sat_mod, "FIRST_EVENT_SECS", 0.01)
    sat, conv, link = make("homeassistant", WakeGate(WakeMode.WAKE_WORD))
    sat.takes_audio(FRAME)
    sat.on_response(pb.VoiceAssistantResponse(port=0))
    await asyncio.sleep(0.05)
    assert sat.state is RunState.IDLE and link.take()[-1].end
    assert any(isinstance(e, ev.ErrorEvent) and "did not start" in e.message for e in conv.events)
    sat.takes_audio(FRAME)
    sat.on_response(pb.VoiceAssistantResponse(port=0))
    sat.on_event(event(E.VOICE_ASSISTANT_RUN_START))
    await asyncio.sleep(0.05)
    assert sat.state is RunState.STREAMING  # a pipeline that speaks up keeps the turn
    await sat.close()

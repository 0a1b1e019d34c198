"""MQTT topics, payloads and discovery without a broker."""

from __future__ import annotations

import json

import pytest

from rtvi_edge import events as ev
from rtvi_edge.mqtt import payloads as p
from rtvi_edge.mqtt.discovery import discovery_messages, removal_messages
from rtvi_edge.mqtt.topics import Topics

T = Topics.for_device("kitchen")


def test_topics() -> None:
    assert T.base == "rtvi-edge/kitchen"
    assert Topics.for_device("x", "home/voice/").base == "home/voice"
    assert T.command("rtvi-edge/kitchen/config/set") == "config/set"
    assert T.command("rtvi-edge/kitchen/state") is None
    assert T.command("rtvi-edge/other/say") is None
    assert "homeassistant/status" in T.subscriptions()


def test_events_map_to_messages() -> None:
    m = p.EventMapper(T)
    assert m.map(ev.StateChanged(session_id="local", state="speaking")) == [
        p.Publish("rtvi-edge/kitchen/state", '{"state":"speaking"}', retain=True)
    ]
    assert m.map(ev.StateChanged(session_id="rtvi-1", state="speaking")) == []
    assert m.map(ev.UserTranscription(session_id="local", text="hi", final=False)) == []
    [t] = m.map(ev.UserTranscription(session_id="local", text="hi", final=True))
    assert t.topic.endswith("event/user_transcript") and json.loads(t.payload)["text"] == "hi"
    m.map(ev.BotOutput(session_id="local", text="Hello.", spoken=False))
    m.map(ev.BotOutput(session_id="local", text="Hello.", spoken=True))
    m.map(ev.BotOutput(session_id="local", text="Bye.", spoken=False))
    answer, metrics = m.map(ev.TurnMetrics(session_id="local", voice_to_voice=0.5123))
    assert json.loads(answer.payload)["text"] == "Hello. Bye."
    assert json.loads(metrics.payload)["voice_to_voice_ms"] == 512
    [err] = m.map(ev.ErrorEvent(session_id="local", message="boom"))
    assert err.topic.endswith("event/error")


@pytest.mark.parametrize(
    ("payload", "needle"),
    [
        (b"{x", "not valid JSON"),
        (b'"str"', "must be a list"),
        (b'{"config": [], "interrupt": "yes"}', "interrupt must be"),
    ],
)
def test_bad_config_payloads(payload: bytes, needle: str) -> None:
    with pytest.raises(p.PayloadError, match=needle):
        p.config_payload(payload)


def test_good_payloads() -> None:
    assert p.config_payload(b"[]") == ([], False)
    assert p.config_payload(b'{"config": [], "interrupt": true}') == ([], True)
    assert p.action_payload(b'{"service": "tts", "action": "say", "id": 7}') == (
        "tts",
        "say",
        [],
        7,
    )
    assert p.text_payload(b"  hello ", "say") == "hello"
    assert p.text_payload(b'{"text": "hi"}', "say") == "hi"
    assert p.switch_payload(b"ON", "m") is True and p.switch_payload(b"false", "m") is False
    assert p.number_payload(b"40", "v", 0, 100) == 40
    assert p.number_payload(b'{"value": 5}', "v", 0, 100) == 5


@pytest.mark.parametrize(
    ("fn", "payload"),
    [
        (lambda b: p.action_payload(b), b"[1]"),
        (lambda b: p.action_payload(b), b'{"service": 1}'),
        (lambda b: p.text_payload(b, "say"), b""),
        (lambda b: p.text_payload(b, "say"), b'{"t": 1}'),
        (lambda b: p.switch_payload(b, "m"), b"maybe"),
        (lambda b: p.number_payload(b, "v", 0, 100), b"loud"),
        (lambda b: p.number_payload(b, "v", 0, 100), b"101"),
    ],
)
def test_bad_command_payloads(fn: object, payload: bytes) -> None:
    with pytest.raises(p.PayloadError):
        fn(payload)  # type: ignore[operator]


def test_discovery_payloads() -> None:
    msgs = discovery_messages(T, "kitchen", "Kitchen speaker")
    topics = {m.topic for m in msgs}
    assert "homeassistant/sensor/rtvi_edge_kitchen/assist_state/config" in topics
    assert "homeassistant/switch/rtvi_edge_kitchen/mute/config" in topics
    for m in msgs:
        cfg = json.loads(m.payload)
        assert m.retain and cfg["availability_topic"] == "rtvi-edge/kitchen/availability"
        assert cfg["device"]["name"] == "Kitchen speaker"
        assert cfg["unique_id"].startswith("rtvi_edge_kitchen_")
    assert {m.topic for m in removal_messages(T, "kitchen")} == topics
    assert all(m.payload == "" and m.retain for m in removal_messages(T, "kitchen"))

"""MQTT topics and command payloads → typed commands, without a broker."""

from __future__ import annotations

import json

import pytest

from rtvi_edge.mqtt import commands as c
from rtvi_edge.mqtt.topics import COMMANDS, CommandKind, Topics

T = Topics.for_device("kitchen")


def parse(kind: CommandKind, payload: str | bytes) -> c.Command:
    raw = payload.encode() if isinstance(payload, str) else payload
    return c.parse_command(kind, raw)


# -- topics --------------------------------------------------------------------------
def test_topic_names() -> None:
    assert T.base == "rtvi-edge/kitchen"
    assert Topics.for_device("x", "home/voice/").base == "home/voice"
    assert Topics.for_device("x", "", "ha/").ha_status == "ha/status"
    assert T.availability == "rtvi-edge/kitchen/availability"
    assert T.event("bot_answer") == "rtvi-edge/kitchen/event/bot_answer"
    assert T.system_metrics == "rtvi-edge/kitchen/metrics/system"


@pytest.mark.parametrize("kind", COMMANDS)
def test_every_command_topic_is_recognised(kind: CommandKind) -> None:
    assert T.command(f"rtvi-edge/kitchen/{kind}") == kind
    assert T.command_topic(kind) in T.subscriptions()


@pytest.mark.parametrize(
    "topic",
    ["rtvi-edge/kitchen/state", "rtvi-edge/other/say", "rtvi-edge/kitchen/say/x", "say", ""],
)
def test_other_topics_are_not_commands(topic: str) -> None:
    assert T.command(topic) is None


def test_subscriptions_include_home_assistant_status() -> None:
    assert "homeassistant/status" in T.subscriptions()
    assert len(T.subscriptions()) == len(COMMANDS) + 1


# -- good payloads ----------------------------------------------------------------------
def test_config_set() -> None:
    item = {"service": "tts", "options": [{"name": "speed", "value": 1.2}]}
    assert parse("config/set", json.dumps([item])) == c.SetConfig([item], False)
    wrapped = json.dumps({"config": [item], "interrupt": True})
    assert parse("config/set", wrapped) == c.SetConfig([item], True)
    assert parse("config/set", "[]") == c.SetConfig([], False)


def test_action() -> None:
    payload = {
        "service": "tts",
        "action": "say",
        "arguments": [{"name": "text", "value": "hi"}],
        "id": "a1",
    }
    assert parse("action", json.dumps(payload)) == c.RunAction(
        "tts", "say", [{"name": "text", "value": "hi"}], "a1"
    )
    # arguments may be an object, and may be left out when none are required
    assert parse("action", '{"service":"tts","action":"say","arguments":{"text":"x"}}') == (
        c.RunAction("tts", "say", [{"name": "text", "value": "x"}])
    )
    assert parse("action", '{"service":"llm","action":"get_context","id":7}') == c.RunAction(
        "llm", "get_context", [], 7
    )


@pytest.mark.parametrize("kind", ["say", "ask"])
def test_text_commands(kind: CommandKind) -> None:
    expected = c.Say("Dinner is ready.") if kind == "say" else c.Ask("Dinner is ready.")
    assert parse(kind, "  Dinner is ready. \n") == expected
    assert parse(kind, '{"text": "Dinner is ready."}') == expected


@pytest.mark.parametrize(
    ("payload", "muted"),
    [("ON", True), ("on", True), ("true", True), ("1", True), ("OFF", False), ("false", False)],
)
def test_mute(payload: str, muted: bool) -> None:
    assert parse("mute/set", payload) == c.SetMute(muted)


@pytest.mark.parametrize(
    ("payload", "volume"),
    [("40", 0.4), ("0", 0.0), ("100", 1.0), ("12.5", 0.125), ('{"value": 5}', 0.05)],
)
def test_volume(payload: str, volume: float) -> None:
    assert parse("volume/set", payload) == c.SetVolume(pytest.approx(volume))  # type: ignore[arg-type]


@pytest.mark.parametrize("payload", ["", "PRESS", "{nope"])
def test_stop_and_listen_take_any_payload(payload: str) -> None:
    assert parse("stop", payload) == c.Stop()
    assert parse("listen", payload) == c.Listen()


# -- bad payloads: refused as a whole, with the problem named ------------------------------
OPT = {"name": "speed", "value": 1.2}


@pytest.mark.parametrize(
    ("kind", "payload", "needle"),
    [
        ("config/set", "{nope", "not valid JSON"),
        ("config/set", b"\xff\xfe", "not UTF-8"),
        ("config/set", '"tts"', "must be a list"),
        ("config/set", '{"config": {}}', "must be a list"),
        ("config/set", '{"config": [], "interrupt": "yes"}', "interrupt must be true or false"),
        ("config/set", "[1]", "config[0]: must be an object"),
        ("config/set", '[{"service": 3, "options": []}]', "service: must be a string"),
        ("config/set", '[{"service": "tts", "options": {}}]', "options: must be a list"),
        ("config/set", '[{"service": "tts", "options": [{"name": "speed"}]}]', "name (string)"),
        ("action", "{nope", "not valid JSON"),
        ("action", "[1]", "must be an object"),
        ("action", '{"service": "tts"}', "service and action must be strings"),
        ("action", '{"service": "tts", "action": "say", "arguments": 3}', "must be a list"),
        ("action", '{"service": "tts", "action": "say", "arguments": [3]}', "arguments[0]"),
        ("say", "", "empty text"),
        ("say", "   ", "empty text"),
        ("say", '{"txt": "hi"}', 'must be {"text": "..."}'),
        ("say", '{"text": 5}', 'must be {"text": "..."}'),
        ("say", "{oops", "not valid JSON"),
        ("say", "x" * (c.MAX_TEXT + 1), "longer than"),
        ("ask", "", "empty text"),
        ("ask", b"\xff", "not UTF-8"),
        ("mute/set", "maybe", "ON or OFF"),
        ("mute/set", "", "ON or OFF"),
        ("volume/set", "loud", "must be a number"),
        ("volume/set", "true", "must be a number"),
        ("volume/set", "{}", "must be a number"),
        ("volume/set", "150", "outside 0-100"),
        ("volume/set", "-1", "outside 0-100"),
        ("stop", b"x" * (c.MAX_PAYLOAD + 1), "larger than"),
    ],
)
def test_bad_payloads(kind: CommandKind, payload: str | bytes, needle: str) -> None:
    with pytest.raises(c.PayloadError) as info:
        parse(kind, payload)
    assert needle in str(info.value)
    assert str(info.value).startswith(kind.split("/")[0])


def test_a_refused_action_keeps_its_id() -> None:
    with pytest.raises(c.PayloadError) as info:
        parse("action", '{"service": "tts", "action": 3, "id": "a9"}')
    assert info.value.request_id == "a9"


@pytest.mark.parametrize(
    ("kind", "payload"),
    [
        ("config/set", '[{"service": "stt", "options": [{"name": "pitch", "value": "x"}]}]'),
        ("action", '{"service": "tts", "action": "sing", "arguments": {"txt": 5}}'),
    ],
)
def test_what_a_command_means_is_left_to_the_services(kind: CommandKind, payload: str) -> None:
    # one validation: the RTVI services behind DeviceControl refuse these (test_services.py)
    assert isinstance(parse(kind, payload), c.SetConfig | c.RunAction)

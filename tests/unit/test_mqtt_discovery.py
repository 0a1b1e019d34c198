"""Home Assistant discovery payloads, checked key by key against the MQTT platforms."""

from __future__ import annotations

import json
import re
from typing import Any

from rtvi_edge import __version__
from rtvi_edge.mqtt.discovery import discovery_messages, removal_messages
from rtvi_edge.mqtt.topics import Topics

T = Topics.for_device("kitchen")
B = "rtvi-edge/kitchen"


def configs(device_id: str = "kitchen", topics: Topics = T) -> dict[str, dict[str, Any]]:
    msgs = discovery_messages(topics, device_id, "Kitchen speaker")
    assert all(m.retain and m.qos == 0 for m in msgs)
    return {m.topic: json.loads(m.payload) for m in msgs}


def test_one_device_with_its_entities() -> None:
    cfgs = configs()
    expected = {
        "sensor/rtvi_edge_kitchen/assist_state",
        "sensor/rtvi_edge_kitchen/last_transcript",
        "sensor/rtvi_edge_kitchen/last_answer",
        "sensor/rtvi_edge_kitchen/latency",
        "switch/rtvi_edge_kitchen/mute",
        "number/rtvi_edge_kitchen/volume",
        "button/rtvi_edge_kitchen/stop",
        "button/rtvi_edge_kitchen/listen",
        "text/rtvi_edge_kitchen/say",
        "text/rtvi_edge_kitchen/ask",
    }
    assert set(cfgs) == {f"homeassistant/{e}/config" for e in expected}
    unique_ids = set()
    for topic, cfg in cfgs.items():
        component = topic.split("/")[1]
        unique_ids.add(cfg["unique_id"])
        assert cfg["unique_id"].startswith("rtvi_edge_kitchen_")
        assert re.fullmatch(rf"{component}\.kitchen_[a-z_]+", cfg["default_entity_id"])
        assert "object_id" not in cfg  # deprecated by default_entity_id
        assert cfg["availability_topic"] == f"{B}/availability"
        assert (cfg["payload_available"], cfg["payload_not_available"]) == ("online", "offline")
        assert cfg["device"] == {
            "identifiers": ["rtvi-edge-kitchen"],
            "name": "Kitchen speaker",
            "manufacturer": "rtvi-edge",
            "model": "On-device voice assistant",
            "sw_version": __version__,
        }
        assert cfg["origin"] == {"name": "rtvi-edge", "sw_version": __version__}
        assert cfg["name"]
        if component == "sensor":
            assert cfg["state_topic"].startswith(B + "/") and "command_topic" not in cfg
        else:
            assert cfg["command_topic"].startswith(B + "/")
    assert len(unique_ids) == len(cfgs)


def test_entity_specific_keys() -> None:
    cfgs = configs()

    def get(path: str) -> dict[str, Any]:
        return cfgs[f"homeassistant/{path}/config"]

    state = get("sensor/rtvi_edge_kitchen/assist_state")
    assert state["state_topic"] == f"{B}/state"
    assert state["value_template"] == "{{ value_json.state }}"
    assert state["device_class"] == "enum"
    assert set(state["options"]) == {"idle", "listening", "thinking", "speaking", "muted"}
    assert get("sensor/rtvi_edge_kitchen/last_transcript")["state_topic"] == f"{B}/last_transcript"
    assert get("sensor/rtvi_edge_kitchen/last_answer")["state_topic"] == f"{B}/last_answer"
    latency = get("sensor/rtvi_edge_kitchen/latency")
    assert latency["state_topic"] == f"{B}/metrics"
    assert "voice_to_voice_ms" in latency["value_template"]
    assert (latency["unit_of_measurement"], latency["device_class"]) == ("ms", "duration")
    assert latency["state_class"] == "measurement"
    mute = get("switch/rtvi_edge_kitchen/mute")
    assert (mute["command_topic"], mute["state_topic"]) == (f"{B}/mute/set", f"{B}/mute")
    assert (mute["payload_on"], mute["payload_off"]) == ("ON", "OFF")
    volume = get("number/rtvi_edge_kitchen/volume")
    assert (volume["command_topic"], volume["state_topic"]) == (f"{B}/volume/set", f"{B}/volume")
    assert (volume["min"], volume["max"], volume["unit_of_measurement"]) == (0, 100, "%")
    stop = get("button/rtvi_edge_kitchen/stop")
    assert (stop["command_topic"], stop["payload_press"]) == (f"{B}/stop", "PRESS")
    assert get("text/rtvi_edge_kitchen/say")["command_topic"] == f"{B}/say"
    ask = get("text/rtvi_edge_kitchen/ask")
    assert ask["command_topic"] == f"{B}/ask" and ask["max"] == 255


def test_removal_clears_every_discovery_topic() -> None:
    removal = removal_messages(T, "kitchen")
    assert {m.topic for m in removal} == set(configs())
    assert all(m.payload == "" and m.retain for m in removal)


def test_odd_device_ids_and_prefixes_give_valid_topics_and_entity_ids() -> None:
    topics = Topics.for_device("Pi 4/Living room", "", "ha")
    cfgs = configs("Pi 4/Living room", topics)
    for topic, cfg in cfgs.items():
        prefix, _component, node, object_id, last = topic.split("/")
        assert prefix == "ha" and last == "config"
        assert re.fullmatch(r"[a-zA-Z0-9_-]+", node) and re.fullmatch(r"[a-z_]+", object_id)
        assert re.fullmatch(r"[a-z_]+\.pi_4_living_room_[a-z_]+", cfg["default_entity_id"])

"""Home Assistant MQTT discovery: one device, its entities, retained config messages.

Topic: <discovery_prefix>/<component>/<node id>/<object id>/config. An empty
retained payload on the same topic removes the entity.
"""

from __future__ import annotations

from typing import Any

from rtvi_edge import __version__
from rtvi_edge.mqtt.payloads import Publish, dumps
from rtvi_edge.mqtt.topics import Topics


def _entities(t: Topics) -> list[tuple[str, str, dict[str, Any]]]:
    """(component, object id, entity-specific keys)."""
    return [
        (
            "sensor",
            "assist_state",
            {
                "name": "Assist state",
                "state_topic": t.state,
                "value_template": "{{ value_json.state }}",
                "icon": "mdi:account-voice",
            },
        ),
        (
            "sensor",
            "last_transcript",
            {
                "name": "Last transcript",
                "state_topic": t.event("user_transcript"),
                "value_template": "{{ value_json.text[:255] }}",
                "icon": "mdi:text-to-speech",
            },
        ),
        (
            "sensor",
            "last_answer",
            {
                "name": "Last answer",
                "state_topic": t.event("bot_answer"),
                "value_template": "{{ value_json.text[:255] }}",
                "icon": "mdi:robot",
            },
        ),
        (
            "sensor",
            "latency",
            {
                "name": "Voice-to-voice latency",
                "state_topic": t.metrics,
                "value_template": "{{ value_json.voice_to_voice_ms }}",
                "unit_of_measurement": "ms",
                "device_class": "duration",
                "state_class": "measurement",
                "entity_category": "diagnostic",
            },
        ),
        (
            "switch",
            "mute",
            {
                "name": "Mute microphone",
                "command_topic": t.t("mute/set"),
                "state_topic": t.mute,
                "payload_on": "ON",
                "payload_off": "OFF",
                "icon": "mdi:microphone-off",
            },
        ),
        (
            "number",
            "volume",
            {
                "name": "Volume",
                "command_topic": t.t("volume/set"),
                "state_topic": t.volume,
                "min": 0,
                "max": 100,
                "step": 5,
                "unit_of_measurement": "%",
                "icon": "mdi:volume-high",
            },
        ),
        (
            "button",
            "stop",
            {
                "name": "Stop",
                "command_topic": t.t("stop"),
                "payload_press": "PRESS",
                "icon": "mdi:stop",
            },
        ),
        (
            "button",
            "listen",
            {
                "name": "Listen",
                "command_topic": t.t("listen"),
                "payload_press": "PRESS",
                "icon": "mdi:microphone",
            },
        ),
        (
            "text",
            "say",
            {"name": "Say", "command_topic": t.t("say"), "max": 255, "icon": "mdi:bullhorn"},
        ),
        (
            "text",
            "ask",
            {"name": "Ask", "command_topic": t.t("ask"), "max": 255, "icon": "mdi:chat-question"},
        ),
    ]


def discovery_messages(t: Topics, device_id: str, device_name: str) -> list[Publish]:
    device = {
        "identifiers": [f"rtvi-edge-{device_id}"],
        "name": device_name,
        "manufacturer": "rtvi-edge",
        "model": "On-device voice assistant",
        "sw_version": __version__,
    }
    origin = {"name": "rtvi-edge", "sw_version": __version__}
    out = []
    for component, object_id, keys in _entities(t):
        config = {
            "unique_id": f"rtvi_edge_{device_id}_{object_id}",
            "object_id": f"{device_id}_{object_id}",
            "availability_topic": t.availability,
            "payload_available": "online",
            "payload_not_available": "offline",
            "device": device,
            "origin": origin,
            **keys,
        }
        out.append(
            Publish(_topic(t, component, device_id, object_id), dumps(config), retain=True, qos=1)
        )
    return out


def removal_messages(t: Topics, device_id: str) -> list[Publish]:
    return [
        Publish(_topic(t, component, device_id, object_id), "", retain=True, qos=1)
        for component, object_id, _keys in _entities(t)
    ]


def _topic(t: Topics, component: str, device_id: str, object_id: str) -> str:
    node = "".join(c if c.isalnum() or c in "_-" else "_" for c in device_id)
    return f"{t.discovery_prefix}/{component}/rtvi_edge_{node}/{object_id}/config"

"""Home Assistant MQTT discovery: one device, its entities, retained config messages.

Topic: <discovery_prefix>/<component>/rtvi_edge_<device id>/<object id>/config.
An empty retained payload on the same topic removes the entity. Entity ids are
suggested with `default_entity_id` (it replaced `object_id` in Home Assistant
2025.10); older versions ignore the key and name entities from the device.
"""

from __future__ import annotations

import re
from typing import Any

from rtvi_edge import __version__
from rtvi_edge import events as ev
from rtvi_edge.mqtt.payloads import Publish, dumps, retained
from rtvi_edge.mqtt.topics import Topics

# An empty string keeps the previous value: typed turns have no voice-to-voice time.
_LATENCY = "{{ value_json.voice_to_voice_ms if value_json.voice_to_voice_ms is number else '' }}"


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
                "device_class": "enum",
                "options": [s.value for s in ev.BotState],  # the one list of states
                "icon": "mdi:account-voice",
            },
        ),
        (
            "sensor",
            "last_transcript",
            {
                "name": "Last transcript",
                "state_topic": t.last_transcript,
                "value_template": "{{ value_json.text[:255] }}",
                "icon": "mdi:account-voice",
            },
        ),
        (
            "sensor",
            "last_answer",
            {
                "name": "Last answer",
                "state_topic": t.last_answer,
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
                "value_template": _LATENCY,
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
                "command_topic": t.command_topic("mute/set"),
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
                "command_topic": t.command_topic("volume/set"),
                "state_topic": t.volume,
                "min": 0,
                "max": 100,
                "step": 1,
                "mode": "slider",
                "unit_of_measurement": "%",
                "icon": "mdi:volume-high",
            },
        ),
        (
            "button",
            "stop",
            {
                "name": "Stop",
                "command_topic": t.command_topic("stop"),
                "payload_press": "PRESS",
                "icon": "mdi:stop",
            },
        ),
        (
            "button",
            "listen",
            {
                "name": "Listen",
                "command_topic": t.command_topic("listen"),
                "payload_press": "PRESS",
                "icon": "mdi:microphone",
            },
        ),
        (
            "text",
            "say",
            {
                "name": "Say",
                "command_topic": t.command_topic("say"),
                "max": 255,
                "icon": "mdi:bullhorn",
            },
        ),
        (
            "text",
            "ask",
            {
                "name": "Ask",
                "command_topic": t.command_topic("ask"),
                "max": 255,
                "icon": "mdi:chat-question",
            },
        ),
    ]


# What the ESPHome API satellite already gives Home Assistant (its assist_satellite
# entity shows the state; its media player the volume; its switch the mute).
ESPHOME_PROVIDES = frozenset({"assist_state", "volume", "mute"})


def device_block(
    device_id: str, device_name: str, esphome_mac: str | None = None
) -> dict[str, Any]:
    block: dict[str, Any] = {
        "identifiers": [f"rtvi-edge-{device_id}"],
        "name": device_name,
        "manufacturer": "rtvi-edge",
        "model": "On-device voice assistant",
        "sw_version": __version__,
    }
    if esphome_mac:
        # The ESPHome integration registers the device by this MAC; sharing it makes HA
        # merge the two into one device instead of listing the device twice.
        block["connections"] = [["mac", esphome_mac]]
    return block


def discovery_messages(
    t: Topics, device_id: str, device_name: str, esphome_mac: str | None = None
) -> list[Publish]:
    """Config messages; with the satellite on (`esphome_mac`), only what ESPHome lacks,
    and empty configs that remove the entities it now provides."""
    device = device_block(device_id, device_name, esphome_mac)
    origin = {"name": "rtvi-edge", "sw_version": __version__}
    slug = _slug(device_id)
    out = []
    for component, object_id, keys in _entities(t):
        if esphome_mac and object_id in ESPHOME_PROVIDES:
            out.append(retained(_topic(t, component, device_id, object_id), ""))
            continue
        config = {
            "unique_id": f"rtvi_edge_{device_id}_{object_id}",
            "default_entity_id": f"{component}.{slug}_{object_id}",
            "availability_topic": t.availability,
            "payload_available": "online",
            "payload_not_available": "offline",
            "qos": 1,
            "device": device,
            "origin": origin,
            **keys,
        }
        out.append(retained(_topic(t, component, device_id, object_id), dumps(config)))
    return out


def removal_messages(t: Topics, device_id: str) -> list[Publish]:
    """Empty retained configs: Home Assistant removes the entities."""
    return [
        retained(_topic(t, component, device_id, object_id), "")
        for component, object_id, _keys in _entities(t)
    ]


def _topic(t: Topics, component: str, device_id: str, object_id: str) -> str:
    # Discovery topic levels allow only [a-zA-Z0-9_-].
    node = re.sub(r"[^a-zA-Z0-9_-]", "_", device_id)
    return f"{t.discovery_prefix}/{component}/rtvi_edge_{node}/{object_id}/config"


def _slug(text: str) -> str:
    # Entity ids allow only lower-case letters, digits and single underscores.
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "rtvi_edge"

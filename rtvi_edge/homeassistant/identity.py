"""Who the device is to Home Assistant: one name and one MAC for the ESPHome API, the
zeroconf announcement and MQTT discovery, so HA files all of it under one device."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from rtvi_edge import __version__
from rtvi_edge.config import Config
from rtvi_edge.errors import ConfigError

ESPHOME_VERSION = "2025.12.0"  # the ESPHome release whose API we speak (1.x)
PROJECT = "rtvi-edge.Voice Assistant"  # "manufacturer.model": how HA names the device


@dataclass(frozen=True)
class DeviceIdentity:
    name: str  # the node name: lower-case letters, digits and dashes
    friendly_name: str
    mac: str  # "aa:bb:cc:dd:ee:ff"
    version: str = __version__

    @property
    def mac_hex(self) -> str:
        return self.mac.replace(":", "")


def machine_mac() -> str:
    node = uuid.getnode()
    return ":".join(f"{(node >> shift) & 0xFF:02x}" for shift in range(40, -8, -8))


def normalise_mac(text: str) -> str:
    digits = re.sub(r"[^0-9a-fA-F]", "", text).lower()
    if len(digits) != 12:
        raise ConfigError([f"[homeassistant] mac = {text!r}: must be 6 bytes, aa:bb:cc:dd:ee:ff"])
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


def identity_for(config: Config, device_id: str) -> DeviceIdentity:
    mac = normalise_mac(config.homeassistant.mac) if config.homeassistant.mac else machine_mac()
    name = re.sub(r"[^a-z0-9-]+", "-", device_id.lower()).strip("-") or "rtvi-edge"
    return DeviceIdentity(name=name, friendly_name=config.device.name, mac=mac)

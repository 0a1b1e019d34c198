"""Who the device is to Home Assistant: one name and one MAC for the ESPHome API, the
zeroconf announcement and MQTT discovery, so HA files all of it under one device."""

from __future__ import annotations

import logging
import re
import secrets
import uuid
from dataclasses import dataclass
from pathlib import Path

from rtvi_edge import __version__
from rtvi_edge.config import Config
from rtvi_edge.errors import ConfigError

log = logging.getLogger(__name__)

MAC_FILE = "homeassistant-mac"  # in the state directory: HA knows the device by it
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
    """This machine's MAC, or a random locally administered one when it has none to give."""
    node = uuid.getnode()
    if node & (1 << 40):  # uuid's own random fallback (multicast bit set): not a real MAC
        node = (secrets.randbits(48) & ~(1 << 40)) | (1 << 41)
    return ":".join(f"{(node >> shift) & 0xFF:02x}" for shift in range(40, -8, -8))


def stable_mac(state_dir: Path) -> str:
    """The MAC chosen on the first start, kept: Home Assistant files the device under it,
    so a new network card or a changed interface order must not make a new device."""
    path = state_dir / MAC_FILE
    try:
        return normalise_mac(path.read_text(encoding="utf-8").strip())
    except (OSError, ConfigError):
        pass
    mac = machine_mac()
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(mac + "\n", encoding="utf-8")
    except OSError as exc:
        log.warning("cannot keep the device's MAC in %s (%s): HA may see a new device", path, exc)
    return mac


def normalise_mac(text: str) -> str:
    digits = re.sub(r"[^0-9a-fA-F]", "", text).lower()
    if len(digits) != 12:
        raise ConfigError([f"[homeassistant] mac = {text!r}: must be 6 bytes, aa:bb:cc:dd:ee:ff"])
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


def identity_for(config: Config, device_id: str, state_dir: Path) -> DeviceIdentity:
    mac = config.homeassistant.mac
    mac = normalise_mac(mac) if mac else stable_mac(state_dir)
    name = re.sub(r"[^a-z0-9-]+", "-", device_id.lower()).strip("-") or "rtvi-edge"
    return DeviceIdentity(name=name, friendly_name=config.device.name, mac=mac)

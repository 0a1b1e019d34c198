"""Device-wide settings: the config file plus what clients changed, persisted.

Changes made through RTVI or MQTT to `device` options are written to
`<state dir>/device-config.json` and laid over the config file at start, so a
restart keeps them; the config file itself is never rewritten.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from pathlib import Path
from typing import Any

from rtvi_edge.config import Config, config_from_mapping, config_to_mapping
from rtvi_edge.engines.hub import EngineHub
from rtvi_edge.errors import ConfigError, RtviEdgeError, ServiceConfigError
from rtvi_edge.services.options import OPTIONS

log = logging.getLogger(__name__)

OVERRIDES_FILE = "device-config.json"


def _device_keys() -> list[tuple[str, str]]:
    return [o.config_key for o in OPTIONS if o.config_key is not None]


def apply_overrides(base: Config, state_dir: Path) -> Config:
    """The base config with persisted overrides; a bad file is reported and ignored."""
    path = state_dir / OVERRIDES_FILE
    if not path.is_file():
        return base
    try:
        overrides = json.loads(path.read_text(encoding="utf-8"))
        merged = config_to_mapping(base)
        for section, values in overrides.items():
            for key, value in values.items():
                if (section, key) not in _device_keys():
                    raise ConfigError([f"{section}.{key} is not a device option"])
                merged[section][key] = value
        return config_from_mapping(merged)
    except (OSError, ValueError, AttributeError, ConfigError) as exc:
        log.warning("ignoring saved device settings in %s: %s", path, exc)
        return base


class DeviceSettings:
    def __init__(self, base: Config, current: Config, hub: EngineHub, state_dir: Path) -> None:
        self.base = base
        self.config = current
        self.hub = hub
        self.state_dir = state_dir
        self._lock = asyncio.Lock()

    async def apply(self, new: Config) -> None:
        """Swap the engines for `new` and persist; on failure nothing changes."""
        async with self._lock:
            try:
                await self.hub.reconfigure(new)
            except Exception as exc:  # an engine library's own error is still a refusal
                paths = _changed_paths(self.config, new)
                if not paths:
                    if not isinstance(exc, RtviEdgeError):
                        raise
                    raise ServiceConfigError(f"could not apply the device settings: {exc}") from exc
                # One answer for every unusable path: whether a file exists is not the
                # caller's business. The device's log has the reason.
                log.warning("device settings refused: %s: %s", ", ".join(paths), exc)
                raise ServiceConfigError(
                    f"could not apply the device settings: {', '.join(paths)}: this model "
                    "cannot be used (the device's log says why)"
                ) from None
            self.config = new
            self._persist()

    def _persist(self) -> None:
        overrides: dict[str, dict[str, Any]] = {}
        for section, key in _device_keys():
            value = getattr(getattr(self.config, section), key)
            if value != getattr(getattr(self.base, section), key):
                overrides.setdefault(section, {})[key] = value
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            tmp = self.state_dir / (OVERRIDES_FILE + ".tmp")
            tmp.write_text(json.dumps(overrides, indent=2), encoding="utf-8")
            os.replace(tmp, self.state_dir / OVERRIDES_FILE)
        except OSError as exc:
            log.warning("could not save device settings in %s: %s", self.state_dir, exc)


MODEL_PATHS = (("stt", "model"), ("llm", "model"), ("tts", "voice"))


def _changed_paths(old: Config, new: Config) -> list[str]:
    return [
        f"{section}.{key}"
        for section, key in MODEL_PATHS
        if getattr(getattr(old, section), key) != getattr(getattr(new, section), key)
    ]

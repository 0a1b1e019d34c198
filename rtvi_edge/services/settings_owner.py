"""The one owner of the device's settings, in three layers (docs/settings.md).

1. **file**: the config file, read at start and again on reload (SIGHUP);
2. **runtime**: what a user changed while the device ran: device-wide options
   over RTVI or MQTT (engines, models, LAN servers) and the device's own mute
   and volume (MQTT, Home Assistant, the volume tool, the local update-config).
   Kept in `<state dir>/device-config.json` and laid over the file at start and
   after every reload, so neither a reload nor a restart undoes them;
3. **session**: one conversation's own options (an RTVI client's prompt or
   volume), held by its `ConversationServices`; they end with it.

`config` is file ⊕ runtime: what every reader asks for. A change reaches the
live conversations through `SettingsWatcher.settings_changed` (each rebases its
settings on the new config, its own session layer on top), and every other part
(the RTVI server, MQTT, Home Assistant, the tools, the log) through `follow`:
it is handed its part of `live` (the config with the restart-only settings of
services/restart_only.py as they were at start) whenever that part changes.
Nothing keeps a copy taken at start.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from rtvi_edge.config import Config, config_from_mapping, config_to_mapping
from rtvi_edge.engines.hub import EngineHub
from rtvi_edge.errors import ConfigError, RtviEdgeError, ServiceConfigError
from rtvi_edge.services.options import OPTIONS
from rtvi_edge.services.restart_only import running, waiting_for_restart

log = logging.getLogger(__name__)

RUNTIME_FILE = "device-config.json"
# The device's own controls: changed at run time, kept like the device options.
CONTROL_KEYS = (("audio", "muted"), ("audio", "volume"))
Key = tuple[str, str]
T = TypeVar("T")


def runtime_keys() -> set[Key]:
    return {o.config_key for o in OPTIONS if o.config_key is not None} | set(CONTROL_KEYS)


class SettingsWatcher(Protocol):
    def settings_changed(self, config: Config) -> None:
        """The file or the runtime layer changed: `config` is the new file ⊕ runtime."""
        ...


def layered(file: Config, runtime: dict[Key, Any]) -> Config:
    """The file with the runtime changes over it (raises ConfigError for a bad value)."""
    if not runtime:
        return file
    merged = config_to_mapping(file)
    for (section, key), value in runtime.items():
        merged[section][key] = value
    return config_from_mapping(merged)


def load_runtime(file: Config, state_dir: Path) -> dict[Key, Any]:
    """The runtime layer as last saved; a bad file is reported and ignored."""
    path = state_dir / RUNTIME_FILE
    if not path.is_file():
        return {}
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        runtime: dict[Key, Any] = {}
        allowed = runtime_keys()
        for section, values in saved.items():
            for key, value in values.items():
                if (section, key) not in allowed:
                    raise ConfigError([f"{section}.{key} is not a device option"])
                runtime[(section, key)] = value
        layered(file, runtime)  # every value must fit its option
        return runtime
    except (OSError, ValueError, AttributeError, ConfigError) as exc:
        log.warning("ignoring saved device settings in %s: %s", path, exc)
        return {}


@dataclass(frozen=True)
class _Follower(Generic[T]):
    """A running part's view of one piece of the settings, and how it takes a new one."""

    read: Callable[[Config], T]
    apply: Callable[[T], None]
    check: Callable[[T], None] | None  # raises ConfigError for a value it cannot take

    def refuses(self, old: Config, new: Config) -> None:
        value = self.read(new)
        if self.check is not None and value != self.read(old):
            self.check(value)

    def moved(self, old: Config, new: Config) -> None:
        value = self.read(new)
        if value != self.read(old):
            self.apply(value)


class SettingsOwner:
    def __init__(self, file: Config, state_dir: Path) -> None:
        self.file = file
        self.state_dir = state_dir
        self._runtime = load_runtime(file, state_dir)
        self.config = layered(file, self._runtime)
        self.started = self.config  # what the restart-only settings stay at until a restart
        self._followers: list[_Follower[Any]] = []
        self.hub: EngineHub | None = None  # set once the engines are built from `config`
        self._watchers: weakref.WeakSet[Any] = weakref.WeakSet()
        self._lock = asyncio.Lock()

    @property
    def runtime(self) -> dict[Key, Any]:
        """What the user changed at run time (a copy)."""
        return dict(self._runtime)

    @property
    def live(self) -> Config:
        """What runs: `config` with the restart-only settings as they were at start."""
        return running(self.config, self.started)

    def follow(
        self,
        read: Callable[[Config], T],
        apply: Callable[[T], None],
        check: Callable[[T], None] | None = None,
    ) -> None:
        """`apply(read(live))` whenever a change moves what `read` picks (a running
        part's own section, say); `check` first, which may refuse the whole change
        with a ConfigError. The part lives as long as the owner."""
        self._followers.append(_Follower(read, apply, check))

    def watch(self, watcher: SettingsWatcher) -> None:
        """`watcher` hears of every change while it lives (held weakly)."""
        self._watchers.add(watcher)

    async def apply_device(self, new: Config) -> None:
        """Device-wide options changed by a user (RTVI, MQTT): swap the engines and keep
        the change; on failure nothing changes."""
        async with self._lock:
            self._check(new)
            await self._reconfigure(new)
            before = self.live
            for section, key in runtime_keys():
                value = getattr(getattr(new, section), key)
                if value != getattr(getattr(self.config, section), key):
                    self._runtime[(section, key)] = value
            self.config = new
            self._persist()
        self._tell(before)

    def set_controls(self, muted: bool, volume: float) -> None:
        """The device's mute and volume as the user left them (kept, never re-announced:
        the local conversation already has them)."""
        audio = self.config.audio
        if (audio.muted, audio.volume) == (muted, volume):
            return
        if audio.muted != muted:
            self._runtime[("audio", "muted")] = muted
        if audio.volume != volume:
            self._runtime[("audio", "volume")] = volume
        self.config = layered(self.file, self._runtime)
        self._persist()

    async def reload(self, file: Config) -> None:
        """The config file again, under the runtime changes. Raises (changing nothing)
        when the engines it asks for cannot be built."""
        async with self._lock:
            new = layered(file, self._runtime)
            self._check(new)
            await self._reconfigure(new)
            before, waiting = self.live, waiting_for_restart(self.config, self.started)
            self.file = file
            self.config = new
        now_waiting = waiting_for_restart(new, self.started)
        if now_waiting and now_waiting != waiting:
            log.warning("reload: a restart is needed for %s", "; ".join(now_waiting))
        self._tell(before)

    def _check(self, new: Config) -> None:
        """Every running part can take `new` (else ConfigError, and nothing changed)."""
        before, after = self.live, running(new, self.started)
        for follower in self._followers:
            follower.refuses(before, after)

    async def _reconfigure(self, new: Config) -> None:
        if self.hub is None:
            return
        try:
            await self.hub.reconfigure(new)
        except Exception as exc:  # an engine library's own error is still a refusal
            paths = _changed_models(self.config, new)
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

    def _tell(self, before: Config) -> None:
        """`before`: `live` before the change."""
        for watcher in list(self._watchers):
            try:
                watcher.settings_changed(self.config)
            except Exception:  # one consumer's bug must not stop the others hearing
                log.exception("applying the new settings failed")
        after = self.live
        for follower in self._followers:
            try:
                follower.moved(before, after)
            except Exception:
                log.exception("applying the new settings failed")

    def _persist(self) -> None:
        saved: dict[str, dict[str, Any]] = {}
        for (section, key), value in sorted(self._runtime.items()):
            saved.setdefault(section, {})[key] = list(value) if isinstance(value, tuple) else value
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            tmp = self.state_dir / (RUNTIME_FILE + ".tmp")
            tmp.write_text(json.dumps(saved, indent=2), encoding="utf-8")
            os.replace(tmp, self.state_dir / RUNTIME_FILE)
        except OSError as exc:
            log.warning("could not save device settings in %s: %s", self.state_dir, exc)


MODEL_PATHS = (("stt", "model"), ("llm", "model"), ("tts", "voice"))


def _changed_models(old: Config, new: Config) -> list[str]:
    return [
        f"{section}.{key}"
        for section, key in MODEL_PATHS
        if getattr(getattr(old, section), key) != getattr(getattr(new, section), key)
    ]

"""MQTT topic names of one device, and which command a topic is (sans-I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

CommandKind = Literal[
    "config/set", "action", "say", "ask", "mute/set", "volume/set", "stop", "listen"
]
COMMANDS: tuple[CommandKind, ...] = get_args(CommandKind)


@dataclass(frozen=True)
class Topics:
    base: str
    discovery_prefix: str = "homeassistant"

    @classmethod
    def for_device(
        cls, device_id: str, base_topic: str = "", discovery_prefix: str = "homeassistant"
    ) -> Topics:
        base = base_topic.strip().strip("/") or f"rtvi-edge/{device_id}"
        return cls(base, discovery_prefix.strip().strip("/") or "homeassistant")

    def t(self, suffix: str) -> str:
        return f"{self.base}/{suffix}"

    # -- out, retained ---------------------------------------------------------
    @property
    def availability(self) -> str:
        return self.t("availability")

    @property
    def state(self) -> str:
        return self.t("state")

    @property
    def config(self) -> str:
        return self.t("config")

    @property
    def mute(self) -> str:
        return self.t("mute")

    @property
    def volume(self) -> str:
        return self.t("volume")

    @property
    def last_transcript(self) -> str:
        return self.t("last_transcript")

    @property
    def last_answer(self) -> str:
        return self.t("last_answer")

    @property
    def metrics(self) -> str:
        return self.t("metrics")

    @property
    def system_metrics(self) -> str:
        return self.t("metrics/system")

    # -- out, not retained -----------------------------------------------------
    def event(self, name: str) -> str:
        return self.t(f"event/{name}")

    @property
    def action_response(self) -> str:
        return self.t("action/response")

    # -- in --------------------------------------------------------------------
    def command_topic(self, kind: CommandKind) -> str:
        return self.t(kind)

    @property
    def ha_status(self) -> str:
        """Home Assistant's birth/last-will topic."""
        return f"{self.discovery_prefix}/status"

    def subscriptions(self) -> list[str]:
        return [self.t(c) for c in COMMANDS] + [self.ha_status]

    def command(self, topic: str) -> CommandKind | None:
        """The command a topic of this device is ('say', 'config/set', ...); None otherwise."""
        prefix = self.base + "/"
        if not topic.startswith(prefix):
            return None
        suffix = topic[len(prefix) :]
        for kind in COMMANDS:
            if suffix == kind:
                return kind
        return None

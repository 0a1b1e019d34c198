"""MQTT topic names of one device, and which command a topic is (sans-I/O)."""

from __future__ import annotations

from dataclasses import dataclass

COMMANDS = ("config/set", "action", "say", "ask", "mute/set", "volume/set", "stop", "listen")


@dataclass(frozen=True)
class Topics:
    base: str
    discovery_prefix: str = "homeassistant"

    @classmethod
    def for_device(
        cls, device_id: str, base_topic: str = "", discovery_prefix: str = "homeassistant"
    ) -> Topics:
        return cls(base_topic.rstrip("/") or f"rtvi-edge/{device_id}", discovery_prefix)

    def t(self, suffix: str) -> str:
        return f"{self.base}/{suffix}"

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
    def metrics(self) -> str:
        return self.t("metrics")

    @property
    def system_metrics(self) -> str:
        return self.t("metrics/system")

    @property
    def mute(self) -> str:
        return self.t("mute")

    @property
    def volume(self) -> str:
        return self.t("volume")

    @property
    def action_response(self) -> str:
        return self.t("action/response")

    @property
    def ha_status(self) -> str:
        return f"{self.discovery_prefix}/status"

    def event(self, name: str) -> str:
        return self.t(f"event/{name}")

    def subscriptions(self) -> list[str]:
        return [self.t(c) for c in COMMANDS] + [self.ha_status]

    def command(self, topic: str) -> str | None:
        """'say', 'config/set', ... for a command topic of this device; None otherwise."""
        prefix = self.base + "/"
        if topic.startswith(prefix) and topic[len(prefix) :] in COMMANDS:
            return topic[len(prefix) :]
        return None

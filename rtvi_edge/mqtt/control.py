"""What the MQTT bridge may ask of the device: the interface belongs to mqtt/, its user.

`rtvi_edge.local_control.LocalControl` implements it over the local
conversation; the bridge and its tests depend only on this Protocol. Config and
actions use the RTVI services shapes:
config = [{"service": "tts", "options": [{"name": "speed", "value": 1.2}]}],
arguments = [{"name": "text", "value": "hello"}].
"""

from __future__ import annotations

from typing import Any, Protocol

from rtvi_edge.events import BotState, EventBus


class DeviceControl(Protocol):
    @property
    def bus(self) -> EventBus:
        """Every session's events (the local conversation's id is `local`)."""
        ...

    @property
    def device_id(self) -> str: ...

    @property
    def device_name(self) -> str: ...

    def state(self) -> BotState:
        """State of the local conversation (idle/listening/thinking/speaking/muted)."""
        ...

    def get_config(self) -> list[dict[str, Any]]:
        """The local conversation's services config, RTVI `config` shape."""
        ...

    def describe_config(self) -> list[dict[str, Any]]: ...

    def describe_actions(self) -> list[dict[str, Any]]: ...

    async def update_config(
        self, config: list[dict[str, Any]], interrupt: bool = False
    ) -> list[dict[str, Any]]:
        """All-or-nothing; raises ServiceConfigError naming the bad part. Returns the new config."""
        ...

    async def run_action(self, service: str, action: str, arguments: list[dict[str, Any]]) -> Any:
        """Runs an RTVI action on the local conversation; raises ServiceConfigError."""
        ...

    async def say(self, text: str) -> None:
        """Speak `text` on the local conversation (no LLM)."""
        ...

    async def ask(self, text: str) -> str:
        """A typed user turn on the local conversation; returns the answer text."""
        ...

    def set_muted(self, muted: bool) -> None: ...

    def set_volume(self, volume: float) -> None: ...

    def volume(self) -> float: ...

    def muted(self) -> bool: ...

    async def stop(self) -> None:
        """Interrupt whatever the local conversation is saying or thinking."""
        ...

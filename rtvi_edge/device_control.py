"""`DeviceControl` for the MQTT bridge: the local conversation and the device settings."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rtvi_edge import events as ev

if TYPE_CHECKING:
    from rtvi_edge.daemon import Daemon
    from rtvi_edge.pipeline.conversation import Conversation
    from rtvi_edge.services.host import ServiceHost


class LocalControl:
    def __init__(self, daemon: Daemon) -> None:
        self._daemon = daemon

    @property
    def _conv(self) -> Conversation:
        assert self._daemon.local is not None
        return self._daemon.local

    @property
    def _host(self) -> ServiceHost:
        assert self._daemon.local_host is not None
        return self._daemon.local_host

    @property
    def bus(self) -> ev.EventBus:
        return self._daemon.bus

    @property
    def device_id(self) -> str:
        return self._daemon.device_id

    @property
    def device_name(self) -> str:
        return self._daemon.config.device.name

    def state(self) -> ev.BotState:
        return self._conv.state

    def get_config(self) -> list[dict[str, Any]]:
        return self._host.get_config()

    def describe_config(self) -> list[dict[str, Any]]:
        return self._host.describe_config()

    def describe_actions(self) -> list[dict[str, Any]]:
        return self._host.describe_actions()

    async def update_config(
        self, config: list[dict[str, Any]], interrupt: bool = False
    ) -> list[dict[str, Any]]:
        return await self._host.update_config(config, interrupt)

    async def run_action(self, service: str, action: str, arguments: list[dict[str, Any]]) -> Any:
        return await self._host.run_action(service, action, arguments)

    async def say(self, text: str) -> None:
        await self._conv.say(text)

    async def ask(self, text: str) -> str:
        conv = self._conv
        await conv.send_text(text)
        # An LLM turn or a local intent's spoken reply: wait for it, then take what was said.
        await conv.wait_idle(120)
        turns = conv.context.turns
        return str(turns[-1]["content"]) if turns and turns[-1]["role"] == "assistant" else ""

    def set_muted(self, muted: bool) -> None:
        self._conv.set_muted(muted)

    def set_volume(self, volume: float) -> None:
        self._conv.settings.volume = max(0.0, min(2.0, volume))

    def volume(self) -> float:
        return self._conv.settings.volume

    def muted(self) -> bool:
        return self._conv.settings.muted

    async def stop(self) -> None:
        await self._conv.interrupt()

"""`DeviceControl` for the MQTT bridge: the local conversation and its services.

Built by the daemon from the parts it owns (no reference back to the daemon).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rtvi_edge import events as ev
from rtvi_edge.config import Config
from rtvi_edge.pipeline.conversation import Conversation
from rtvi_edge.services.conversation_services import ConversationServices


class LocalControl:
    def __init__(
        self,
        bus: ev.EventBus,
        device_id: str,
        config: Callable[[], Config],
        conversation: Conversation,
        services: ConversationServices,
    ) -> None:
        self._bus = bus
        self._device_id = device_id
        self._config = config
        self._conv = conversation
        self._services = services

    @property
    def bus(self) -> ev.EventBus:
        return self._bus

    @property
    def device_id(self) -> str:
        return self._device_id

    @property
    def device_name(self) -> str:
        return self._config().device.name

    def state(self) -> ev.BotState:
        return self._conv.state

    def get_config(self) -> list[dict[str, Any]]:
        return self._services.get_config()

    def describe_config(self) -> list[dict[str, Any]]:
        return self._services.describe_config()

    def describe_actions(self) -> list[dict[str, Any]]:
        return self._services.describe_actions()

    async def update_config(
        self, config: list[dict[str, Any]], interrupt: bool = False
    ) -> list[dict[str, Any]]:
        return await self._services.update_config(config, interrupt)

    async def run_action(self, service: str, action: str, arguments: list[dict[str, Any]]) -> Any:
        return await self._services.run_action(service, action, arguments)

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
        self._conv.set_volume(volume)

    def volume(self) -> float:
        return self._conv.volume

    def muted(self) -> bool:
        return self._conv.settings.muted

    async def stop(self) -> None:
        await self._conv.interrupt()

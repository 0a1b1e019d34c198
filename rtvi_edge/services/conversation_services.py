"""The RTVI services of one conversation: what `get-config`, `update-config` and
`action` act on, for an RTVI session or for the local conversation (MQTT).
Validation happens here once; the MQTT commands only check the payload's shape."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from rtvi_edge import events as ev
from rtvi_edge.errors import ServiceConfigError
from rtvi_edge.pipeline.conversation import Conversation
from rtvi_edge.services import actions, options
from rtvi_edge.services.device import DeviceSettings
from rtvi_edge.services.update import plan_update

# What a client that is not paired hears when it asks for more than its own session.
PAIRING_NEEDED = (
    "this needs the device's pairing token (see `rtvi-edge token` or the page "
    "opened on the device itself)"
)


class ConversationServices:
    def __init__(
        self,
        conversation: Conversation,
        device: DeviceSettings,
        disconnect: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.conversation = conversation
        self.device = device
        self._ctx = actions.ActionContext(conversation, disconnect)
        self.paired = True  # an unpaired RTVI client may not change the device or run actions

    def get_config(self) -> list[dict[str, Any]]:
        return options.current_config(self.conversation.settings, self.device.config)

    @staticmethod
    def describe_config() -> list[dict[str, Any]]:
        return options.describe_config()

    @staticmethod
    def describe_actions() -> list[dict[str, Any]]:
        return actions.describe_actions()

    async def update_config(self, items: Any, interrupt: bool = False) -> list[dict[str, Any]]:
        conv = self.conversation
        plan = plan_update(items, conv.settings, self.device.config)
        if plan.device_changed and not self.paired:
            raise ServiceConfigError(f"changing device-wide settings: {PAIRING_NEEDED}")
        if plan.device_changed:
            await self.device.apply(plan.device)  # raises before anything else is applied
        conv.update_settings(plan.settings, reset_context=plan.context_reset)
        if interrupt:
            await conv.interrupt()
        config = self.get_config()
        conv.bus.publish(ev.ConfigChanged(session_id=conv.session_id, config=config))
        return config

    async def run_action(
        self, service: Any, action: Any, arguments: Any, check_pairing: bool = True
    ) -> Any:
        if check_pairing and not self.paired:
            raise ServiceConfigError(f"actions: {PAIRING_NEEDED}")
        return await actions.run_action(self._ctx, service, action, arguments)

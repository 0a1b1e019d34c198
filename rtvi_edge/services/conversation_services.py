"""The RTVI services of one conversation: what `get-config`, `update-config` and
`action` act on, for an RTVI session or for the local conversation (MQTT).
Validation happens here once; the MQTT commands only check the payload's shape.

It also keeps the conversation's settings layered (services/settings_owner.py):
when the file or the runtime layer changes, the conversation gets the new base
with its own session changes on top.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from rtvi_edge import events as ev
from rtvi_edge.config import Config
from rtvi_edge.errors import ServiceConfigError
from rtvi_edge.pipeline.conversation import Conversation
from rtvi_edge.pipeline.settings import SessionSettings
from rtvi_edge.services import actions, options
from rtvi_edge.services.settings_owner import SettingsOwner
from rtvi_edge.services.update import plan_update

# What a client that is not paired hears when it asks for more than its own session.
PAIRING_NEEDED = (
    "this needs the device's pairing token (see `rtvi-edge token` or the page "
    "opened on the device itself)"
)

BaseSettings = Callable[[Config], SessionSettings]


class ConversationServices:
    def __init__(
        self,
        conversation: Conversation,
        owner: SettingsOwner,
        disconnect: Callable[[], Awaitable[None]] | None = None,
        base: BaseSettings = SessionSettings.from_config,
    ) -> None:
        """`base`: the settings a conversation of this kind starts with, for a config."""
        self.conversation = conversation
        self.owner = owner
        self._base = base
        self._base_settings = base(owner.config)
        self._ctx = actions.ActionContext(conversation, disconnect)
        self.paired = True  # an unpaired RTVI client may not change the device or run actions
        owner.watch(self)

    def get_config(self) -> list[dict[str, Any]]:
        return options.current_config(self.conversation.settings, self.owner.config)

    @staticmethod
    def describe_config() -> list[dict[str, Any]]:
        return options.describe_config()

    @staticmethod
    def describe_actions() -> list[dict[str, Any]]:
        return actions.describe_actions()

    async def update_config(self, items: Any, interrupt: bool = False) -> list[dict[str, Any]]:
        conv = self.conversation
        plan = plan_update(items, conv.settings, self.owner.config)
        if plan.device_changed and not self.paired:
            raise ServiceConfigError(f"changing device-wide settings: {PAIRING_NEEDED}")
        if plan.device_changed:
            await self.owner.apply_device(plan.device)  # raises before anything else is applied
        conv.update_settings(plan.settings, reset_context=plan.context_reset)
        if interrupt:
            await conv.interrupt()
        config = self.get_config()
        conv.bus.publish(ev.ConfigChanged(session_id=conv.session_id, config=config))
        return config

    def settings_changed(self, config: Config) -> None:
        """SettingsWatcher: the new base, with what this session changed itself on top."""
        conv = self.conversation
        if conv.closed:
            return
        own = options.session_changes(conv.settings, self._base_settings)
        settings = self._base(config)
        options.apply_session(settings, own)
        self._base_settings = self._base(config)
        conv.update_settings(settings)
        conv.bus.publish(ev.ConfigChanged(session_id=conv.session_id, config=self.get_config()))

    async def run_action(
        self, service: Any, action: Any, arguments: Any, check_pairing: bool = True
    ) -> Any:
        if check_pairing and not self.paired:
            raise ServiceConfigError(f"actions: {PAIRING_NEEDED}")
        return await actions.run_action(self._ctx, service, action, arguments)

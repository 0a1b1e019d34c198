"""Builds each conversation's tools and the device's intent matcher from config."""

from __future__ import annotations

from collections.abc import Callable

from rtvi_edge.config import Config
from rtvi_edge.pipeline.conversation import Conversation
from rtvi_edge.tools.builtin import ToolContext, build_tools, parse_devices, timezone
from rtvi_edge.tools.intents import IntentMatcher, intents_for
from rtvi_edge.tools.registry import ToolRegistry
from rtvi_edge.tools.runner import ToolRunner
from rtvi_edge.tools.timers import TimerService


class ToolSetup:
    """Device-wide tool settings; `equip()` gives a conversation its tools."""

    def __init__(
        self,
        config: Config,
        timers: TimerService | None,
        publish: Callable[[str, str], bool] | None,
    ) -> None:
        cfg = config.tools
        self.config = cfg
        self.timers = timers
        self.publish = publish
        self.devices = parse_devices(cfg.devices)
        self.tz = timezone(cfg.timezone)
        self.client_timeout = config.rtvi.function_call_timeout_secs
        tool_names = {t.name for t in build_tools(self._context(None), cfg)}
        self.matcher = (
            IntentMatcher(intents_for(cfg.intents_file), list(self.devices), tool_names)
            if cfg.intents
            else None
        )

    def _context(self, conv: Conversation | None) -> ToolContext:
        async def stop() -> None:
            if conv is not None:
                await conv.interrupt()

        def set_volume(v: float) -> None:
            if conv is not None:
                conv.settings.volume = v

        return ToolContext(
            session_id=conv.session_id if conv else "",
            timers=self.timers,
            get_volume=lambda: conv.settings.volume if conv else 1.0,
            set_volume=set_volume,
            stop=stop,
            publish=self.publish,
            devices=self.devices,
            payload_on=self.config.device_payload_on,
            payload_off=self.config.device_payload_off,
            tz=self.tz,
        )

    def equip(self, conv: Conversation, client_functions: bool) -> None:
        registry = ToolRegistry()
        for tool in build_tools(self._context(conv), self.config):
            registry.add(tool)
        runner = ToolRunner(registry, self.client_timeout)
        runner.can_call_client = lambda: client_functions
        conv.tool_runner = runner
        conv.intents = self.matcher
        conv.llm_tools = self.config.llm_tools
        conv.apply_settings()

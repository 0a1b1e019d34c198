"""Builds each conversation's tools and the device's intent matcher from config.

The tools layer owns `SessionHandle`, what a builtin tool may do to the
conversation it serves; the pipeline's `Conversation` satisfies it, so tools
never import the pipeline.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from rtvi_edge.config import Config, ToolsConfig
from rtvi_edge.tools.builtin import ToolContext, build_tools, parse_devices, timezone
from rtvi_edge.tools.intents import IntentMatcher, intents_for
from rtvi_edge.tools.registry import ToolRegistry
from rtvi_edge.tools.runner import ToolRunner
from rtvi_edge.tools.timers import TimerService
from rtvi_edge.tools.trust import Guests


class SessionHandle(Protocol):
    """The conversation a set of tools serves."""

    @property
    def session_id(self) -> str: ...

    @property
    def volume(self) -> float: ...

    def set_volume(self, volume: float) -> None: ...

    async def interrupt(self) -> bool: ...


@dataclass(eq=False)
class SessionTools:
    """One conversation's tools: what runs them, the intents, and whether the LLM may call.
    The setup refreshes them when the device's tool settings change (its client's
    functions stay)."""

    runner: ToolRunner
    intents: IntentMatcher | None
    llm_tools: bool
    session: SessionHandle = field(repr=False)


@dataclass(frozen=True)
class ToolSettings:
    """What the tools read from the config: `[tools]`, and how long a client function may take."""

    tools: ToolsConfig
    client_timeout: float

    @staticmethod
    def of(config: Config) -> ToolSettings:
        return ToolSettings(config.tools, config.rtvi.function_call_timeout_secs)

    def check(self) -> None:
        """Raises ConfigError for devices, a time zone or an intents file that cannot be used."""
        parse_devices(self.tools.devices)
        timezone(self.tools.timezone)
        if self.tools.intents:
            intents_for(self.tools.intents_file)


class ToolSetup:
    """Device-wide tool settings; `for_session()` builds one conversation's tools, and
    `use()` brings new settings to the next conversation and every live one."""

    def __init__(
        self,
        config: Config,
        timers: TimerService | None,
        publish: Callable[[str, str], bool] | None,
        guests: Guests | None = None,
    ) -> None:
        self.guests = guests or Guests()
        self.timers = timers
        self.publish = publish
        self._sessions: weakref.WeakSet[SessionTools] = weakref.WeakSet()
        self.use(ToolSettings.of(config))

    def use(self, settings: ToolSettings) -> None:
        cfg = settings.tools
        self.config = cfg
        self.devices = parse_devices(cfg.devices)
        self.tz = timezone(cfg.timezone)
        self.client_timeout = settings.client_timeout
        tool_names = {t.name for t in build_tools(self._context(None), cfg)}
        self.matcher = (
            IntentMatcher(intents_for(cfg.intents_file), list(self.devices), tool_names)
            if cfg.intents
            else None
        )
        for tools in list(self._sessions):
            tools.runner.local = self._registry(tools.session)
            tools.runner.client_timeout = self.client_timeout
            tools.intents = self.matcher
            tools.llm_tools = cfg.llm_tools

    def _context(self, session: SessionHandle | None) -> ToolContext:
        async def stop() -> None:
            if session is not None:
                await session.interrupt()

        def set_volume(v: float) -> None:
            if session is not None:
                session.set_volume(v)

        return ToolContext(
            session_id=session.session_id if session else "",
            timers=self.timers,
            get_volume=lambda: session.volume if session else 1.0,
            set_volume=set_volume,
            stop=stop,
            publish=self.publish,
            devices=self.devices,
            payload_on=self.config.device_payload_on,
            payload_off=self.config.device_payload_off,
            tz=self.tz,
            guest=lambda: session is not None and session.session_id in self.guests,
        )

    def _registry(self, session: SessionHandle) -> ToolRegistry:
        registry = ToolRegistry()
        for tool in build_tools(self._context(session), self.config):
            registry.add(tool)
        return registry

    def for_session(self, session: SessionHandle, client_functions: bool) -> SessionTools:
        runner = ToolRunner(
            self._registry(session), self.client_timeout, client_functions=client_functions
        )
        tools = SessionTools(runner, self.matcher, self.config.llm_tools, session)
        self._sessions.add(tools)
        return tools

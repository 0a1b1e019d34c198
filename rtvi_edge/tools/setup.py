"""Builds each conversation's tools and the device's intent matcher from config.

The tools layer owns `SessionHandle`, what a builtin tool may do to the
conversation it serves; the pipeline's `Conversation` satisfies it, so tools
never import the pipeline.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from rtvi_edge.config import Config
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


@dataclass(frozen=True)
class SessionTools:
    """One conversation's tools: what runs them, the intents, and whether the LLM may call."""

    runner: ToolRunner
    intents: IntentMatcher | None
    llm_tools: bool


class ToolSetup:
    """Device-wide tool settings; `for_session()` builds one conversation's tools."""

    def __init__(
        self,
        config: Config,
        timers: TimerService | None,
        publish: Callable[[str, str], bool] | None,
        guests: Guests | None = None,
    ) -> None:
        cfg = config.tools
        self.guests = guests or Guests()
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

    def for_session(self, session: SessionHandle, client_functions: bool) -> SessionTools:
        registry = ToolRegistry()
        for tool in build_tools(self._context(session), self.config):
            registry.add(tool)
        runner = ToolRunner(registry, self.client_timeout, client_functions=client_functions)
        return SessionTools(runner, self.matcher, self.config.llm_tools)

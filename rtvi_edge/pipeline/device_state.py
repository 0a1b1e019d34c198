"""One conversation's settings and device state (mute, volume), and the one place
that pushes a change into the running parts: the listener, the LLM context,
the client's functions and the input gate.
"""

from __future__ import annotations

from collections.abc import Callable

from rtvi_edge.pipeline.context import LlmContext
from rtvi_edge.pipeline.input_gate import InputGate
from rtvi_edge.pipeline.listener import UserListener
from rtvi_edge.pipeline.settings import SessionSettings, clamp_volume
from rtvi_edge.tools.registry import tool_from_schema
from rtvi_edge.tools.setup import SessionTools


class DeviceState:
    def __init__(self, settings: SessionSettings) -> None:
        settings.volume = clamp_volume(settings.volume)
        self._settings = settings
        self._parts: tuple[UserListener, LlmContext, SessionTools | None, InputGate] | None = None
        self._controls = (settings.muted, settings.volume)
        self._watchers: list[Callable[[bool, float], None]] = []

    def watch_controls(self, watcher: Callable[[bool, float], None]) -> None:
        """`watcher(muted, volume)` hears of each change of the two, by whatever path
        (the conversation announces them; the settings owner keeps the device's)."""
        self._watchers.append(watcher)

    def bind(
        self,
        listener: UserListener,
        context: LlmContext,
        tools: SessionTools | None,
        gate: InputGate,
    ) -> None:
        """The running parts the settings go to; applied at once."""
        self._parts = (listener, context, tools, gate)
        self._apply()

    @property
    def settings(self) -> SessionSettings:
        """Read-only by convention: change it through the methods below."""
        return self._settings

    @property
    def muted(self) -> bool:
        return self._settings.muted

    @property
    def volume(self) -> float:
        return self._settings.volume

    def set_muted(self, muted: bool) -> None:
        self._settings.muted = muted
        if self._parts is not None:
            self._parts[3].apply_mute()
        self._changed()

    def set_volume(self, volume: float) -> None:
        self._settings.volume = clamp_volume(volume)
        self._changed()

    def set_system_prompt(self, prompt: str) -> None:
        self._settings.system_prompt = prompt

    def replace(self, settings: SessionSettings, reset_context: bool = False) -> None:
        """New settings, pushed into the running parts; `reset_context`: start over
        from the (new) initial messages."""
        settings.volume = clamp_volume(settings.volume)
        self._settings = settings
        self._apply()
        if reset_context and self._parts is not None:
            context = self._parts[1]
            context.initial_messages = list(settings.initial_messages)
            context.reset()
        self._changed()

    def _apply(self) -> None:
        if self._parts is None:
            return
        listener, context, tools, gate = self._parts
        s = self._settings
        listener.set_params(s.endpoint)
        listener.interim_secs = s.interim_secs
        context.history_tokens = s.history_tokens
        context.system_prompt = s.system_prompt
        if tools is not None:
            tools.runner.client_tools = [tool_from_schema(t) for t in s.tools]
        gate.apply_mute()

    def _changed(self) -> None:
        controls = (self._settings.muted, self._settings.volume)
        if controls == self._controls:
            return
        self._controls = controls
        for watcher in self._watchers:
            watcher(*controls)

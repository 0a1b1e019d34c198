"""What other modules call on a conversation, each call handed to the part that owns it.

Services, tools, MQTT, the audio supervisor and RTVI sessions change a
conversation only through these methods; Home Assistant's satellite sees it
only as a `HandoffHost` (pipeline/handoff.py), which these satisfy.
"""

from __future__ import annotations

from typing import Any

from rtvi_edge import events as ev
from rtvi_edge.audio.sink import AudioSink
from rtvi_edge.pipeline.bot_turns import BotTurns
from rtvi_edge.pipeline.context import LlmContext
from rtvi_edge.pipeline.device_state import DeviceState
from rtvi_edge.pipeline.handoff import TurnHandoff
from rtvi_edge.pipeline.hands_free import HandsFree, WakeDetector
from rtvi_edge.pipeline.input_gate import InputGate
from rtvi_edge.pipeline.listener import UserListener
from rtvi_edge.pipeline.owned_tasks import OwnedTasks
from rtvi_edge.pipeline.settings import SessionSettings
from rtvi_edge.pipeline.turn_tracker import TurnTracker
from rtvi_edge.tools.setup import SessionTools


class ConversationApi:
    # The parts, built by `Conversation.__init__`.
    device: DeviceState
    gate: InputGate
    context: LlmContext
    listener: UserListener
    tracker: TurnTracker
    turns: BotTurns
    tasks: OwnedTasks
    tools: SessionTools | None
    _sink: AudioSink | None
    _handoff: TurnHandoff | None = None  # another pipeline (Home Assistant)

    # -- what others read ----------------------------------------------------------------
    @property
    def settings(self) -> SessionSettings:
        """Read-only by convention: change it with `update_settings()` and the setters."""
        return self.device.settings

    @property
    def sink(self) -> AudioSink | None:
        return self._sink

    @property
    def state(self) -> ev.BotState:
        return self.tracker.state

    @property
    def volume(self) -> float:
        return self.device.volume

    @property
    def muted(self) -> bool:
        return self.device.muted

    @property
    def user_speaking(self) -> bool:
        return self.listener.in_speech

    @property
    def hands_free(self) -> HandsFree:
        return self.gate.hands_free

    @property
    def listens_always(self) -> bool:
        """No wake word or push-to-talk stands between the microphone and the listener."""
        return self.gate.listens_always

    @property
    def wake_word(self) -> str | None:
        return self.gate.wake_word

    # -- settings and device state (services, tools, MQTT, Home Assistant) -------------------
    def set_muted(self, muted: bool) -> None:
        self.device.set_muted(muted)

    def set_volume(self, volume: float) -> None:
        self.device.set_volume(volume)

    def update_settings(self, settings: SessionSettings, reset_context: bool = False) -> None:
        """New settings, pushed into the running parts; `reset_context`: start over
        from the (new) initial messages."""
        self.device.replace(settings, reset_context)

    def attach_sink(self, sink: AudioSink | None) -> None:
        """Where the voice goes now (None: text only, e.g. while the speaker is gone)."""
        self._sink = sink

    # -- the LLM context (RTVI llm:* actions) ------------------------------------------------
    def append_messages(self, messages: list[dict[str, Any]]) -> None:
        """Validated messages added to the context (llm:append_to_messages)."""
        for message in messages:
            self.context.append(message)

    def set_messages(self, messages: list[dict[str, Any]]) -> None:
        """The context replaced; a leading system message becomes the prompt (llm:set_context)."""
        self.context.set_messages(messages)
        self.device.set_system_prompt(self.context.system_prompt)

    def reset_context(self) -> None:
        """Forget the conversation, keep the prompt (llm:reset)."""
        self.context.reset()

    def add_assistant_text(self, text: str) -> None:
        self.context.add_assistant(text)

    def resolve_function_call(self, call_id: str, result: object) -> bool:
        return self.tools is not None and self.tools.runner.resolve(call_id, result)

    # -- wake gate and the other pipeline (Home Assistant) -----------------------------------
    def wake(self, source: str = "push") -> None:
        """Start listening (wake word heard, or push-to-talk)."""
        self.gate.wake(source)

    def set_wake_detector(self, detector: WakeDetector) -> None:
        """Listen for another wake word from now on (chosen in Home Assistant)."""
        self.gate.set_wake_detector(detector)

    def hold_wake_gate(self) -> None:
        self.gate.user_turn_started()

    def sleep_wake_gate(self) -> None:
        self.gate.sleep()

    @property
    def handoff(self) -> TurnHandoff | None:
        return self._handoff

    def attach_handoff(self, handoff: TurnHandoff | None) -> None:
        """Another pipeline that may take turns (Home Assistant's satellite attaches
        itself once it is serving; None detaches it)."""
        self._handoff = handoff

    def remote_state(self, state: ev.BotState) -> None:
        """Another pipeline (Home Assistant) runs this turn: show where it is."""
        self.tracker.remote(state)

    async def wait_idle(self, timeout: float = 60.0) -> None:
        """Until the bot has answered (tests, MQTT `ask`, the chat command); at most `timeout`."""
        await self.tasks.wait_idle(timeout)

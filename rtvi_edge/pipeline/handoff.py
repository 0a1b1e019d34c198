"""A conversation may hand turns to another pipeline (Home Assistant's Assist).

Two narrow interfaces, one each way: `TurnHandoff` is what the conversation
asks of the other pipeline; `HandoffHost` is all the other pipeline may do to
the conversation (show its state, play through its speaker, hold its wake gate,
read and change mute and volume). Neither side sees the other's internals.
"""

from __future__ import annotations

from typing import Protocol

from rtvi_edge import events as ev
from rtvi_edge.audio.sink import AudioSink
from rtvi_edge.pipeline.hands_free import WakeDetector
from rtvi_edge.pipeline.listener import Utterance


class TurnHandoff(Protocol):
    @property
    def answers_turns(self) -> bool:
        """True while turns the local intents do not answer go elsewhere."""
        ...

    def takes_audio(self, pcm16k: bytes) -> bool:
        """Microphone audio the conversation would hear; True when it went elsewhere."""
        ...

    def takes_turn(self, text: str, utt: Utterance | None) -> bool:
        """A user turn no local intent answers; True when another pipeline answers it."""
        ...

    def stop_speaking(self) -> bool:
        """Stop what the other pipeline plays on the speaker; True if something played."""
        ...


class HandoffHost(Protocol):
    """The conversation as another pipeline sees it."""

    @property
    def session_id(self) -> str: ...

    @property
    def sink(self) -> AudioSink | None:
        """The speaker now (None: text only)."""
        ...

    @property
    def state(self) -> ev.BotState: ...

    @property
    def user_speaking(self) -> bool: ...

    @property
    def listens_always(self) -> bool:
        """No wake gate: the microphone always reaches the listener."""
        ...

    @property
    def wake_word(self) -> str | None:
        """The wake word listened for; None: no wake-word detector."""
        ...

    @property
    def muted(self) -> bool: ...

    @property
    def volume(self) -> float: ...

    def set_muted(self, muted: bool) -> None: ...

    def set_volume(self, volume: float) -> None: ...

    def publish(self, event: ev.Event) -> None:
        """An event of this conversation (bot-started/stopped-speaking guard the echo)."""
        ...

    def remote_state(self, state: ev.BotState) -> None:
        """The other pipeline runs this turn: show where it is."""
        ...

    def hold_wake_gate(self) -> None:
        """Hear until the other pipeline's run is over."""
        ...

    def sleep_wake_gate(self) -> None: ...

    def set_wake_detector(self, detector: WakeDetector) -> None: ...

    def add_assistant_text(self, text: str) -> None:
        """What the other pipeline answered, for the LLM's context."""
        ...

    async def interrupt(self) -> bool: ...

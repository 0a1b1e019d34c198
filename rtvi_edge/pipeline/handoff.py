"""A conversation may hand turns to another pipeline (Home Assistant's Assist)."""

from __future__ import annotations

from typing import Protocol

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

"""The conversation's turn-taking state: an enum and one pure transition function.

idle → listening (the user speaks) → thinking (a committed turn runs) →
speaking (the bot's first audio) → idle (or listening if the user already
speaks again); `muted` overrides everything until unmuted. The conversation
reports its changes; nothing else decides the next state.
"""

from __future__ import annotations

from enum import Enum, StrEnum

from rtvi_edge import events as ev


class TurnState(StrEnum):
    IDLE = "idle"
    LISTENING = "listening"
    THINKING = "thinking"
    SPEAKING = "speaking"
    MUTED = "muted"

    @property
    def wire(self) -> ev.BotState:
        """The state as events, RTVI and MQTT spell it."""
        return _WIRE[self]


_WIRE: dict[TurnState, ev.BotState] = {
    TurnState.IDLE: "idle",
    TurnState.LISTENING: "listening",
    TurnState.THINKING: "thinking",
    TurnState.SPEAKING: "speaking",
    TurnState.MUTED: "muted",
}


class TurnEvent(Enum):
    USER_STARTED = "user_started"  # the listener heard speech start
    USER_SILENT = "user_silent"  # the utterance had no words
    TURN_STARTED = "turn_started"  # a committed bot turn (or a local intent) runs
    BOT_SPEAKING = "bot_speaking"  # the bot's first audio left
    TURN_ENDED = "turn_ended"  # the turn finished, failed or was interrupted; user quiet
    TURN_ENDED_USER_SPEAKING = "turn_ended_user_speaking"  # ... while the user speaks
    MUTED = "muted"
    UNMUTED = "unmuted"


_NEXT: dict[TurnEvent, TurnState] = {
    TurnEvent.USER_STARTED: TurnState.LISTENING,
    TurnEvent.USER_SILENT: TurnState.IDLE,
    TurnEvent.TURN_STARTED: TurnState.THINKING,
    TurnEvent.BOT_SPEAKING: TurnState.SPEAKING,
    TurnEvent.TURN_ENDED: TurnState.IDLE,
    TurnEvent.TURN_ENDED_USER_SPEAKING: TurnState.LISTENING,
    TurnEvent.MUTED: TurnState.MUTED,
}


def next_state(current: TurnState, event: TurnEvent, muted: bool) -> TurnState:
    """The one transition function: muted wins over everything but unmuting."""
    if event is TurnEvent.UNMUTED:
        return TurnState.IDLE if current is TurnState.MUTED else current
    if muted:
        return TurnState.MUTED
    return _NEXT[event]

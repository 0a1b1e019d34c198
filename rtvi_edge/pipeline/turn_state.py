"""The conversation's turn-taking state machine: its events and one pure transition function.

The state is `events.BotState`, the one representation that RTVI, MQTT and Home
Assistant show too: idle → listening (the user speaks) → thinking (a committed
turn runs) → speaking (the bot's first audio) → idle (or listening if the user
already speaks again); `muted` overrides everything until unmuted. The
conversation reports its changes; nothing else decides the next state.
"""

from __future__ import annotations

from enum import Enum

from rtvi_edge.events import BotState


class TurnEvent(Enum):
    USER_STARTED = "user_started"  # the listener heard speech start
    USER_SILENT = "user_silent"  # the utterance had no words
    TURN_STARTED = "turn_started"  # a committed bot turn (or a local intent) runs
    BOT_SPEAKING = "bot_speaking"  # the bot's first audio left
    TURN_ENDED = "turn_ended"  # the turn finished, failed or was interrupted; user quiet
    TURN_ENDED_USER_SPEAKING = "turn_ended_user_speaking"  # ... while the user speaks
    MUTED = "muted"
    UNMUTED = "unmuted"


_NEXT: dict[TurnEvent, BotState] = {
    TurnEvent.USER_STARTED: BotState.LISTENING,
    TurnEvent.USER_SILENT: BotState.IDLE,
    TurnEvent.TURN_STARTED: BotState.THINKING,
    TurnEvent.BOT_SPEAKING: BotState.SPEAKING,
    TurnEvent.TURN_ENDED: BotState.IDLE,
    TurnEvent.TURN_ENDED_USER_SPEAKING: BotState.LISTENING,
    TurnEvent.MUTED: BotState.MUTED,
}


def next_state(current: BotState, event: TurnEvent, muted: bool) -> BotState:
    """The one transition function: muted wins over everything but unmuting."""
    if event is TurnEvent.UNMUTED:
        return BotState.IDLE if current is BotState.MUTED else current
    return entered(_NEXT[event], muted)


def entered(state: BotState, muted: bool) -> BotState:
    """The state a turn reaches (its own, or another pipeline's as Home Assistant reports
    it): muted wins."""
    return BotState.MUTED if muted else state

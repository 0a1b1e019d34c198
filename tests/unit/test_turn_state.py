"""The conversation's one transition function."""

from __future__ import annotations

import pytest

from rtvi_edge.pipeline.turn_state import TurnEvent, TurnState, next_state

S, E = TurnState, TurnEvent


@pytest.mark.parametrize(
    ("state", "event", "after"),
    [
        (S.IDLE, E.USER_STARTED, S.LISTENING),
        (S.LISTENING, E.USER_SILENT, S.IDLE),
        (S.LISTENING, E.TURN_STARTED, S.THINKING),
        (S.THINKING, E.BOT_SPEAKING, S.SPEAKING),
        (S.SPEAKING, E.TURN_ENDED, S.IDLE),
        (S.SPEAKING, E.TURN_ENDED_USER_SPEAKING, S.LISTENING),
        (S.SPEAKING, E.USER_STARTED, S.LISTENING),  # barge-in
        (S.IDLE, E.UNMUTED, S.IDLE),
        (S.MUTED, E.UNMUTED, S.IDLE),
    ],
)
def test_transitions(state: TurnState, event: TurnEvent, after: TurnState) -> None:
    assert next_state(state, event, muted=False) is after


@pytest.mark.parametrize("event", [e for e in TurnEvent if e is not TurnEvent.UNMUTED])
def test_muted_wins_over_everything_but_unmuting(event: TurnEvent) -> None:
    assert next_state(TurnState.SPEAKING, event, muted=True) is TurnState.MUTED


def test_the_wire_names_are_the_events_states() -> None:
    assert [s.wire for s in TurnState] == ["idle", "listening", "thinking", "speaking", "muted"]

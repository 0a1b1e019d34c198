"""Where one conversation's turn is: the state of `turn_state.py`, told to everyone.

The tracker applies the pure transition function and publishes each change
(`StateChanged`); when a turn is over it tells the wake gate, whose follow-up
window opens then.
"""

from __future__ import annotations

from collections.abc import Callable

from rtvi_edge import events as ev
from rtvi_edge.pipeline.turn_state import TurnEvent, entered, next_state


class TurnTracker:
    def __init__(
        self,
        session_id: str,
        muted: Callable[[], bool],
        publish: Callable[[ev.Event], None],
        on_idle: Callable[[], None],
    ) -> None:
        self._session_id = session_id
        self._muted = muted
        self._publish = publish
        self._on_idle = on_idle
        self.state = entered(ev.BotState.IDLE, muted())

    def transition(self, event: TurnEvent) -> None:
        self._enter(next_state(self.state, event, self._muted()))

    def _enter(self, state: ev.BotState) -> None:
        if state is ev.BotState.IDLE:
            self._on_idle()
        if state is not self.state:
            self.state = state
            self._publish(ev.StateChanged(session_id=self._session_id, state=state))

    def turn_ended(self, user_speaking: bool) -> None:
        self.transition(
            TurnEvent.TURN_ENDED_USER_SPEAKING if user_speaking else TurnEvent.TURN_ENDED
        )

    def remote(self, state: ev.BotState) -> None:
        """Another pipeline (Home Assistant) runs this turn: show where it is."""
        self._enter(entered(state, self._muted()))

"""The bot's voice holds on the first frame of a voice over it.

The barge-in rule (`endpointing.BargeIn`) needs a clear frame and `min_secs` of
speech before it calls a voice over the bot a user turn, and while the bot talks
the echo canceller's double-talk suppression chops the user's voice into pieces,
so that took half a second and more (docs/benchmark.md). A listener stops on the
first syllable. So on one frame that the VAD calls speech (its own threshold) the
voice holds at once and the user hears silence; with the bot quiet the canceller
lets the whole voice through and the rule confirms within a few frames. If it
does not (a cough, what the canceller leaves of the bot), the voice goes on where
it held after `hold_secs` without another such frame.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from rtvi_edge.pipeline.bot_turn import BotTurn


class EarlyHold:
    def __init__(self, hold_secs: Callable[[], float], confirmed: Callable[[], bool]) -> None:
        self._hold_secs = hold_secs  # the session's setting (0: off)
        self._confirmed = confirmed  # the user's turn has started (the rule said so)
        self._turn: BotTurn | None = None
        self._timer: asyncio.TimerHandle | None = None
        self.holds = 0  # held on a voice (a bench figure)
        self.released = 0  # of these, let go again: no user turn followed

    @property
    def holding(self) -> bool:
        return self._turn is not None

    def voice(self, turn: BotTurn | None) -> None:
        """A frame of speech while the bot speaks (`turn`)."""
        secs = self._hold_secs()
        if turn is None or secs <= 0 or not (turn.committed and turn.speaking):
            return
        if self._turn is None:
            if turn.held:
                return  # already held by someone else (a backchannel being heard)
            turn.hold()
            self._turn = turn
            self.holds += 1
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(secs, self._expired)

    def confirmed(self) -> None:
        """The user's turn started: whoever handles it owns the hold from now on."""
        self._forget()

    def clear(self) -> None:
        """The bot's turn is over (interrupted, replaced)."""
        self._forget()

    def _expired(self) -> None:
        self._timer = None
        turn, self._turn = self._turn, None
        if turn is None or self._confirmed():
            return  # (confirmed: whoever handles the user's turn owns the hold)
        self.released += 1
        turn.resume()

    def _forget(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._turn = None

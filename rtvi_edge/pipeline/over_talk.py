"""The user speaks while the bot answers: a backchannel, an answer given too soon, or
an interruption (the conversation's part for talk over the bot).

A committed answer holds its voice the moment the user starts (so they hear it
stop at once) and the words decide at their first pause: only a backchannel
("mm-hm", `backchannel.py`) lets it go on where it held; within 2 s of the
device taking the turn the answer is taken back (`continuation.py`: it leaves
the context, the next words join the earlier ones); otherwise it is an
interruption and the context keeps what the user heard. More than
`BACKCHANNEL_MAX_SECS` of talk without a pause is no backchannel either.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from rtvi_edge.pipeline.backchannel import is_backchannel
from rtvi_edge.pipeline.bot_turn import BotTurn
from rtvi_edge.pipeline.bot_turns import BotTurns
from rtvi_edge.pipeline.context import LlmContext
from rtvi_edge.pipeline.continuation import Answered, Continuation
from rtvi_edge.pipeline.early_hold import EarlyHold
from rtvi_edge.pipeline.listener import UserListener
from rtvi_edge.pipeline.owned_tasks import OwnedTasks
from rtvi_edge.pipeline.settings import SessionSettings
from rtvi_edge.pipeline.turn_state import TurnEvent
from rtvi_edge.pipeline.turn_tracker import TurnTracker

BACKCHANNEL_MAX_SECS = 0.7  # talking over the bot longer than this without a pause stops it


@dataclass(frozen=True)
class OverTalkDeps:
    turns: BotTurns
    listener: UserListener
    context: LlmContext
    tasks: OwnedTasks
    tracker: TurnTracker
    settings: Callable[[], SessionSettings]
    clock: Callable[[], float]
    interrupt: Callable[[int | None], Coroutine[Any, Any, bool]]  # forget_from: take it back
    is_command: Callable[[str], bool]  # a local command answers it (its effect is real)


class OverTalk:
    def __init__(self, deps: OverTalkDeps) -> None:
        self._d = deps
        self.continuation = Continuation()
        self._held: tuple[BotTurn, Answered | None] | None = None
        self.early = EarlyHold(
            lambda: deps.settings().barge_in_hold_secs, lambda: deps.listener.in_speech
        )

    @property
    def holding(self) -> bool:
        return self._held is not None

    def clear(self) -> None:
        self._held = None
        self.early.clear()

    def voice(self) -> None:
        """A frame of speech over the bot: hold now (`early_hold.py`); the barge-in
        rule and then the words decide."""
        self.early.voice(self._d.turns.current)

    def started(self, turn: BotTurn) -> None:
        """The user started speaking while `turn` runs."""
        self.early.confirmed()
        endpoint = self._d.settings().endpoint
        answered = None
        if turn.committed and endpoint.turn_recover:
            answered = self.continuation.speech_started(self._d.clock())
        if not (turn.committed and endpoint.turn_backchannel):
            self._stop_for(answered)
            return
        turn.hold()  # quiet at once; the words decide
        self._held = (turn, answered)
        asyncio.get_running_loop().call_later(BACKCHANNEL_MAX_SECS, self._expired, turn)

    def heard(self, text: str, final: bool) -> bool:
        """While the voice holds: True if `text` is only a backchannel (the bot goes on once
        the user is done, and the words are no user turn); else the bot is stopped now."""
        held, self._held = self._held, None
        if held is None or held[0] is not self._d.turns.current:
            return False
        turn, answered = held
        if not (is_backchannel(text) or (final and not text)):
            self._stop_for(answered)
            return False
        if not final:
            self._held = held  # until the user is done
        else:
            turn.resume()
            if answered is not None:
                self.continuation.committed(answered)  # "mm-hm" is no continuation
            self._d.tracker.transition(TurnEvent.BOT_SPEAKING)
        return True

    def _stop_for(self, answered: Answered | None) -> None:
        if answered is not None:
            self._d.tasks.spawn(self._take_back(answered), "take-back")
        else:
            self._d.tasks.spawn(self._d.interrupt(None), "interrupt")

    def _expired(self, turn: BotTurn) -> None:
        held, listener = self._held, self._d.listener
        if held and held[0] is turn and listener.in_speech and not listener.paused:
            self._held = None
            self._stop_for(held[1])

    async def _take_back(self, answered: Answered) -> None:
        """The user goes on right after the device took the turn: it was not over."""
        if self._d.is_command(answered.text):
            self.continuation.keep()  # a local command ran: it stands
            await self._d.interrupt(None)
            return
        self._d.listener.endpointer.continued(time.monotonic() - answered.speech_end_at)
        await self._d.interrupt(answered.turns_before)
        if len(self._d.context.turns) > answered.turns_before:
            self.continuation.keep()  # a tool ran in the answer: it was kept, nothing joins

"""The bot's side of one conversation: one turn at a time, started, supervised and
interrupted here, and the LLM context told what the user actually heard.

A turn may be speculative (`gated`: it thinks and synthesises while the user
may still go on) until the conversation commits it. Typed text that arrives
mid-answer without `run_immediately` waits and joins the context after it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rtvi_edge import events as ev
from rtvi_edge.audio.sink import AudioSink
from rtvi_edge.engines.hub import EngineHub
from rtvi_edge.pipeline.bot_turn import BotTurn, TurnSpec
from rtvi_edge.pipeline.context import LlmContext
from rtvi_edge.pipeline.device_state import DeviceState
from rtvi_edge.pipeline.listener import Utterance
from rtvi_edge.pipeline.owned_tasks import OwnedTasks
from rtvi_edge.pipeline.turn_metrics import turn_metrics
from rtvi_edge.pipeline.turn_state import TurnEvent
from rtvi_edge.pipeline.turn_tracker import TurnTracker
from rtvi_edge.tools.setup import SessionTools

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TurnDeps:
    """What the bot's turns use of their conversation."""

    session_id: str
    hub: EngineHub
    context: LlmContext
    device: DeviceState
    tracker: TurnTracker
    tasks: OwnedTasks
    sink: Callable[[], AudioSink | None]
    publish: Callable[[ev.Event], None]  # the conversation's: speaking events guard the echo
    user_speaking: Callable[[], bool]
    tools: SessionTools | None
    chunk_ms: int


class BotTurns:
    def __init__(self, deps: TurnDeps) -> None:
        self._d = deps
        self._current: BotTurn | None = None
        self.utt: Utterance | None = None  # the spoken turn being answered (for its metrics)
        self.speculative_text: str | None = None
        self._queued_user: list[str] = []  # send-text without run_immediately, mid-turn

    @property
    def current(self) -> BotTurn | None:
        return self._current

    def _set_current(self, turn: BotTurn | None) -> None:
        self._current = turn
        self._d.tasks.set_turn_running(turn is not None)

    def add_user_later(self, text: str) -> None:
        """A user message for the next turn; mid-answer it waits for the answer's end."""
        if self._current is not None:
            self._queued_user.append(text)
        else:
            self._d.context.add_user(text)

    def _take_queued_user(self) -> None:
        for text in self._queued_user:
            self._d.context.add_user(text)
        self._queued_user.clear()

    def start(
        self,
        messages: list[dict[str, Any]] | None,
        text: str = "",
        speak: bool = True,
        gated: bool = False,
    ) -> BotTurn:
        """`messages`: for the LLM (None: speak `text` as it is); `gated`: speculative."""
        d = self._d
        s = d.device.settings
        engines = d.hub.engines
        sink = d.sink()
        spec = TurnSpec(
            session_id=d.session_id,
            messages=messages,
            text=text,
            params=s.generation(),
            speak=speak and sink is not None,
            speed=s.tts_speed,
            volume=s.volume,
            first_chunk_words=s.first_chunk_words,
            first_max_words=s.first_max_words,
            chunk_ms=d.chunk_ms,
        )
        t = d.tools
        runner = t.runner if (t is not None and messages is not None and t.llm_tools) else None
        turn = BotTurn(spec, engines.llm, engines.tts, sink, d.publish, gated=gated, tools=runner)
        self._set_current(turn)
        if not gated:
            d.tracker.transition(TurnEvent.TURN_STARTED)
        turn.start()
        d.tasks.spawn(self._supervise(turn), "turn-supervisor")
        return turn

    def commit(self, turn: BotTurn) -> None:
        """The speculative turn answers what the user said: let it speak."""
        turn.commit()
        self._d.tracker.transition(TurnEvent.TURN_STARTED)

    async def interrupt(self, forget_from: int | None = None) -> bool:
        """Stop the bot now; the context keeps what the user heard. True if it was busy.
        `forget_from`: the answer is taken back instead (pipeline/continuation.py): the
        context drops its turns from there on, unless a tool ran in it."""
        d = self._d
        turn = self._current
        self._set_current(None)
        self.speculative_text = None
        if turn is None:
            return False
        if turn.committed:
            # Before the turn unwinds: clients see bot-interrupted, then bot-stopped-speaking.
            heard = turn.heard_text()
            d.publish(ev.BotInterrupted(session_id=d.session_id, spoken_text=heard))
        outcome = await turn.cancel()
        if not turn.committed:
            self._take_queued_user()
            return False  # speculative: nobody saw it
        if forget_from is not None and not outcome.tool_messages:
            del d.context.turns[forget_from:]  # the half answer and what it answered
            self._take_queued_user()
            d.tracker.turn_ended(d.user_speaking())
            return True
        for message in outcome.tool_messages:
            d.context.append(message)  # tools that ran did run
        if outcome.spoken:
            d.context.add_assistant(outcome.spoken)
        self._take_queued_user()
        d.tracker.turn_ended(d.user_speaking())
        return True

    async def _supervise(self, turn: BotTurn) -> None:
        d = self._d
        task = turn.task
        assert task is not None
        try:
            outcome = await task
        except asyncio.CancelledError:
            return  # interrupted: interrupt() took care of the context
        except Exception as exc:
            log.exception("session %s: bot turn failed", d.session_id)
            if self._current is turn:
                self._set_current(None)
            d.publish(ev.ErrorEvent(session_id=d.session_id, message=f"bot turn failed: {exc}"))
            self._take_queued_user()
            d.tracker.transition(TurnEvent.TURN_ENDED)
            return
        if self._current is not turn:
            return
        self._set_current(None)
        for message in outcome.tool_messages:
            d.context.append(message)
        said = outcome.spoken or outcome.generated
        if said:
            d.context.add_assistant(said)
        self._take_queued_user()
        utt, self.utt = self.utt, None
        d.publish(turn_metrics(d.session_id, utt, outcome, d.hub.engines))
        d.tracker.turn_ended(d.user_speaking())

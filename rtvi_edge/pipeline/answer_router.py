"""Who answers a committed user message: a local intent, another pipeline (Home
Assistant, through its `TurnHandoff`), or the LLM, in that order.
"""

from __future__ import annotations

from collections.abc import Callable

from rtvi_edge.pipeline.bot_turn import BotTurn
from rtvi_edge.pipeline.bot_turns import BotTurns
from rtvi_edge.pipeline.context import LlmContext
from rtvi_edge.pipeline.handoff import TurnHandoff
from rtvi_edge.pipeline.intent_answers import IntentAnswers
from rtvi_edge.pipeline.owned_tasks import OwnedTasks
from rtvi_edge.pipeline.turn_state import TurnEvent
from rtvi_edge.pipeline.turn_tracker import TurnTracker
from rtvi_edge.tools.intents import IntentMatch


class AnswerRouter:
    def __init__(
        self,
        intents: IntentAnswers,
        handoff: Callable[[], TurnHandoff | None],
        turns: BotTurns,
        context: LlmContext,
        tracker: TurnTracker,
        tasks: OwnedTasks,
    ) -> None:
        self._intents = intents
        self._handoff = handoff
        self._turns = turns
        self._context = context
        self._tracker = tracker
        self._tasks = tasks

    def may_speculate(self, text: str) -> bool:
        """Whether the LLM may start on `text` before the user's turn is confirmed."""
        if self._match(text) is not None:
            return False  # commands have side effects: wait for the confirmed endpoint
        handoff = self._handoff()
        # What the intents do not answer goes elsewhere: nothing to speculate on.
        return handoff is None or not handoff.answers_turns

    def is_command(self, text: str) -> bool:
        """A local command answers `text` (its effect cannot be taken back)."""
        return self._match(text) is not None

    def respond(self, text: str, speak: bool) -> BotTurn | None:
        """Answer the committed user message `text` (already in the context)."""
        match = self._match(text)
        handoff = self._handoff()
        if match is None and handoff is not None and handoff.takes_turn(text, self._turns.utt):
            return None
        if match is None:
            return self._turns.start(self._context.for_llm(), speak=speak)
        self._tasks.spawn(
            self._run_intent(match, speak), f"intent-{match.intent.name}", prepares_answer=True
        )
        return None

    def _match(self, text: str) -> IntentMatch | None:
        handoff = self._handoff()
        others = handoff is not None and handoff.answers_turns
        return self._intents.match(text, others_answer=others)

    async def _run_intent(self, match: IntentMatch, speak: bool) -> None:
        reply = await self._intents.answer(match)
        if reply:
            self._turns.start(None, text=reply, speak=speak)
        else:
            self._context.add_assistant("")  # e.g. "stop": the user's turn got no words
            self._tracker.transition(TurnEvent.TURN_ENDED)

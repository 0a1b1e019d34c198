"""At a pause: does the language model think the user's words so far end their turn?

The conversation asks this as soon as the speculative transcript is known (~60 ms
into the pause), before it starts the speculative answer, with the messages that
answer will be given: the model evaluates the answer's prompt up to the user's
last word and reads P(<|im_end|>) there (`engines/llm_eou.py`), and the answer
then finds that prefix in llama.cpp's cache. So the probability costs the
answer nothing but a softmax and a thread hop. The result goes to the
endpointer as a `TextEou`; with a language model that cannot tell (a remote
one, a failover chain), the endpointer is told at once that none will come.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from rtvi_edge.engines.base import EndOfTurnModel, LanguageModel

log = logging.getLogger(__name__)


class TextEndOfTurn:
    def __init__(self, llm: Callable[[], LanguageModel]) -> None:
        self._llm = llm
        self._failed = False  # reported once

    def can_tell(self) -> bool:
        return isinstance(self._llm(), EndOfTurnModel)

    async def probability(self, messages: list[dict[str, Any]]) -> float | None:
        """P(turn over) for the last (user) message, or None; never raises."""
        llm = self._llm()
        if not isinstance(llm, EndOfTurnModel):
            return None
        try:
            return await asyncio.to_thread(llm.end_of_turn_probability, messages)
        except Exception as exc:  # a model failure must not stop the conversation
            if not self._failed:
                log.warning("end-of-turn probability failed (audio cues only): %s", exc)
                self._failed = True
            return None

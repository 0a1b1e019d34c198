"""Local intents as a collaborator of the conversation: a command answered on the
device (timers, volume, the lights) without the LLM.

`match()` says whether a user's words are a command; `answer()` runs its tool
and gives the words to speak. A command that names no device known here is
left to whoever else may know it (the client's own functions, or Home
Assistant when it answers what the device does not).
"""

from __future__ import annotations

import logging

from rtvi_edge.tools.intents import IntentMatch
from rtvi_edge.tools.setup import SessionTools

log = logging.getLogger(__name__)


class IntentAnswers:
    def __init__(self, session_id: str, tools: SessionTools | None) -> None:
        self._session_id = session_id
        self._tools = tools

    def match(self, text: str, others_answer: bool) -> IntentMatch | None:
        """`others_answer`: another pipeline takes the turns no local intent answers."""
        t = self._tools
        if t is None or t.intents is None:
            return None
        match = t.intents.match(text)
        if match is None or match.intent.tool:
            return match
        # "No such device" here, but another may know it.
        if t.runner.client_tools or others_answer:
            return None
        return match

    async def answer(self, match: IntentMatch) -> str:
        """Runs the intent's tool; the reply to speak ("" when there is none, e.g. "stop")."""
        assert self._tools is not None
        result = (
            await self._tools.runner.local.call(match.intent.tool, match.args)
            if match.intent.tool
            else {}  # an answer without a tool (e.g. a device that is not set up)
        )
        log.info(
            "session %s: intent %s %s -> %s",
            self._session_id, match.intent.name, match.args, result,
        )  # fmt: skip
        return match.response(result)

"""The LLM context of one conversation: system prompt, initial messages, turns.

Trimming drops the oldest turns (whole user/assistant exchanges) until the
history fits its token budget; the system prompt and initial messages stay.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from rtvi_edge.errors import ServiceConfigError
from rtvi_edge.tools.honesty import REPLIES

_REFUSALS = frozenset(REPLIES.values())

Message = dict[str, Any]
ROLES = ("system", "user", "assistant", "tool")


def validate_messages(messages: Any, what: str = "messages") -> list[Message]:
    """Checks an RTVI-supplied message list; raises ServiceConfigError naming the problem."""
    if not isinstance(messages, list):
        raise ServiceConfigError(f"{what}: must be a list of {{role, content}} objects")
    out: list[Message] = []
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict):
            raise ServiceConfigError(f"{what}[{i}]: must be an object with role and content")
        role, content = msg.get("role"), msg.get("content")
        if role not in ROLES:
            raise ServiceConfigError(f"{what}[{i}].role = {role!r}: must be one of {ROLES}")
        if not isinstance(content, str):
            raise ServiceConfigError(f"{what}[{i}].content: must be a string")
        out.append({"role": role, "content": content})
    return out


def is_tool_exchange(message: Message) -> bool:
    """A tool call or result as the device stores them (tools/router.py)."""
    content = str(message.get("content", ""))
    return message.get("role") == "tool" or (
        message.get("role") == "assistant" and content.startswith('{"function_call"')
    )


def is_refusal(message: Message) -> bool:
    """The device's fixed "I can't tell …" (tools/honesty.py), said instead of the model."""
    return message.get("role") == "assistant" and str(message.get("content", "")) in _REFUSALS


def last_user_index(messages: list[Message]) -> int:
    """Where this turn begins: the last user message (0 when there is none)."""
    return max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=0)


def estimate_tokens(text: str) -> int:
    return max(1, len(text) // 4)


class LlmContext:
    def __init__(
        self,
        system_prompt: str,
        initial_messages: list[Message] | None = None,
        history_tokens: int = 1024,
        count_tokens: Callable[[str], int] = estimate_tokens,
    ) -> None:
        self.system_prompt = system_prompt
        self.initial_messages: list[Message] = list(initial_messages or [])
        self.history_tokens = history_tokens
        self.count_tokens = count_tokens
        self.turns: list[Message] = []

    def reset(self) -> None:
        self.turns.clear()

    def set_messages(self, messages: list[Message]) -> None:
        """Replaces the whole context (llm:set_context): a leading system message
        becomes the system prompt; the rest become the turns."""
        msgs = list(messages)
        if msgs and msgs[0]["role"] == "system":
            self.system_prompt = msgs.pop(0)["content"]
        self.initial_messages = []
        self.turns = msgs

    def append(self, message: Message) -> None:
        self.turns.append(dict(message))

    def add_user(self, text: str) -> None:
        self.append({"role": "user", "content": text})

    def add_assistant(self, text: str) -> None:
        self.append({"role": "assistant", "content": text})

    def messages(self) -> list[Message]:
        """Everything, as stored (llm:get_context)."""
        head: list[Message] = []
        if self.system_prompt:
            head.append({"role": "system", "content": self.system_prompt})
        return copy.deepcopy(head + self.initial_messages + self.turns)

    def for_llm(self, pending_user: str | None = None) -> list[Message]:
        """Messages to send to the model, trimmed to the history budget."""
        self.trim()
        # Earlier turns' tool calls and results stay in the context (llm:get_context) but
        # not in the model's view: a small model copies their JSON, or speaks an earlier
        # result as this turn's answer. The answers spoken after them carry what they said.
        msgs = self.messages()
        last_user = last_user_index(msgs)
        msgs = [m for i, m in enumerate(msgs) if i >= last_user or not is_tool_exchange(m)]
        # A question the device refused carries nothing the model needs, and a small
        # model shown "I can't tell: …" says it again to whatever comes next.
        msgs = _without_refused(msgs)
        if pending_user is not None:
            msgs.append({"role": "user", "content": pending_user})
        return msgs

    def trim(self) -> None:
        while len(self.turns) > 1 and self._history_size() > self.history_tokens:
            # Drop the oldest exchange: a user message and what answered it.
            self.turns.pop(0)
            while self.turns and self.turns[0]["role"] != "user":
                self.turns.pop(0)

    def _history_size(self) -> int:
        return sum(self.count_tokens(str(m.get("content", ""))) + 4 for m in self.turns)


def _without_refused(msgs: list[Message]) -> list[Message]:
    """`msgs` less each refusal and the user message it answered."""
    drop: set[int] = set()
    for i, m in enumerate(msgs):
        if is_refusal(m):
            drop.add(i)
            j = i - 1
            while j >= 0 and msgs[j]["role"] != "user":
                j -= 1
            if j >= 0:
                drop.add(j)
    return [m for i, m in enumerate(msgs) if i not in drop]

"""An answer that is an earlier answer again, word for word.

A small model (SmolLM2-135M) often answers a new question with what it said a few
turns before: after "It is 12 times." came eleven different questions, each answered
"It is 12 times." So before the first words of an answer go out, they are compared with
the earlier answers the model was shown; an answer that begins as one of them, word for
word, is dropped unheard and asked again without the history (bot_turn.py). So is an
answer, in a turn no tool ran, that has the shape of one of the device's fixed replies
("Done: …", "Timer set for …", "Heating oil: …": tools/fixed_shapes.py), which the model
copied from earlier turns to claim an action or a reading no tool made. What is
compared: the words about to go out against a whole earlier answer, its first
sentence, or at least its first five words.
"""

from __future__ import annotations

import re
from typing import Any

from rtvi_edge.pipeline.context import is_tool_exchange, last_user_index
from rtvi_edge.tools import fixed_shapes

_WORD = re.compile(r"[\w']+")
_MIN_PREFIX_WORDS = 5  # a shorter start ("It is", "Yes,") is not a copy of anything


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def earlier_answers(messages: list[dict[str, Any]]) -> tuple[str, ...]:
    """The assistant's answers before the last user message, as the model sees them;
    not those to the same question (asked again, the same answer is right)."""
    last_user = last_user_index(messages)
    asked = _words(str(messages[last_user].get("content") or "")) if messages else []
    answers: list[str] = []
    question: list[str] = []
    for m in messages[:last_user]:
        content = str(m.get("content") or "")
        if m.get("role") == "user":
            question = _words(content)
        elif m.get("role") == "assistant" and _words(content) and question != asked:
            answers.append(content)
    return tuple(answers)


def tool_ran(messages: list[dict[str, Any]]) -> bool:
    """A tool call or result is in this turn (after the last user message)."""
    return any(is_tool_exchange(m) for m in messages[last_user_index(messages) :])


ECHO, FRESH, WAIT = "echo", "fresh", "wait"


def judge(text: str, earlier: tuple[str, ...], finished: bool = False, shapes: bool = True) -> str:
    """ECHO when `text`, an answer's first words, is an earlier answer: all of it, its
    first sentence (three words or more), or its first five words or more; or, with
    `shapes` (no tool ran this turn), when it has a device reply's shape. WAIT while it
    is the start of one and too short to tell (unless the answer is `finished`); else
    FRESH."""
    if shapes and fixed_shapes.device_shaped(text):
        return ECHO  # "Done: …", "Timer set for …": no tool did it this turn
    said = _words(text)
    if not said:
        return FRESH if finished else WAIT
    verdict = WAIT if shapes and not finished and fixed_shapes.may_become(text) else FRESH
    for answer in earlier:
        before = _words(answer)
        if said == before:
            return ECHO
        if before[: len(said)] != said:
            continue
        first_sentence = _words(re.split(r"(?<=[.!?])\s", answer.strip(), maxsplit=1)[0])
        if len(said) >= _MIN_PREFIX_WORDS or (len(said) >= 3 and said == first_sentence):
            return ECHO
        verdict = FRESH if finished else WAIT
    return verdict


def settled(text: str) -> str:
    """`text` without a last word the next piece may still lengthen."""
    return re.sub(r"[\w']+$", "", text)


def without_history(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The system prompt and this turn only (its user message and what follows it)."""
    last_user = last_user_index(messages)
    head = [m for m in messages[:last_user] if m.get("role") == "system"]
    return head + messages[last_user:]

"""An answer that is an earlier answer again is asked again without the history."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

from rtvi_edge import events as ev
from rtvi_edge.pipeline import echo
from rtvi_edge.pipeline.bot_turn import BotTurn, TurnSpec


def chat(*pairs: str, now: str) -> list[dict[str, Any]]:
    msgs: list[dict[str, Any]] = [{"role": "system", "content": "sys"}]
    for i, text in enumerate(pairs):
        msgs.append({"role": "user" if i % 2 == 0 else "assistant", "content": text})
    return [*msgs, {"role": "user", "content": now}]


def test_whole_answers_first_sentences_and_long_starts_repeat() -> None:
    earlier = echo.earlier_answers(
        chat(
            *("Q1", "It is 12 times.", "Q2", "No"),
            *("Q3", "Paris is the capital of France. It is big."),
            now="Q4",
        )
    )
    assert echo.judge("It is 12 times.", earlier) == echo.ECHO
    assert echo.judge("No.", earlier) == echo.ECHO
    assert echo.judge("Paris is the capital of France.", earlier) == echo.ECHO  # 1st sentence
    assert echo.judge("Paris is the capital of", earlier) == echo.ECHO  # five words
    assert echo.judge("It is", earlier) == echo.WAIT  # too soon to tell
    assert echo.judge("It is", earlier, finished=True) == echo.FRESH  # all it said
    assert echo.judge("No, they're not.", earlier) == echo.FRESH
    assert echo.judge("It is 13 times.", earlier) == echo.FRESH
    assert echo.settled("It is 1") == "It is "


def test_the_same_question_may_get_the_same_answer() -> None:
    msgs = chat("What is the capital of France?", "Paris.", now="What is the capital of France?")
    assert echo.earlier_answers(msgs) == ()


def test_without_history_keeps_the_system_prompt_and_this_turn() -> None:
    msgs = chat("Q1", "A1", now="Q2")
    assert echo.without_history(msgs) == [msgs[0], msgs[-1]]


class _CopyingLlm:
    """Copies its last answer when it sees history, answers properly without."""

    def __init__(self) -> None:
        self.prompts: list[list[dict[str, Any]]] = []

    def stream_chat(self, messages: Any, params: Any, cancel: Any, stats: Any) -> Iterator[str]:
        self.prompts.append(messages)
        copied = len(messages) > 2
        for piece in ["It", " is", " 12", " times."] if copied else ["Rivers", " flow", "."]:
            if cancel.is_set():
                return
            time.sleep(0.002)
            yield piece

    def count_tokens(self, text: str) -> int:
        return len(text.split())


async def test_an_echo_is_dropped_unheard_and_asked_again() -> None:
    llm = _CopyingLlm()
    events: list[object] = []
    spec = TurnSpec("s1", chat("What is 3 times 4?", "It is 12 times.", now="Why?"), speak=False)
    turn = BotTurn(spec, llm, None, None, events.append)  # type: ignore[arg-type]
    outcome = await asyncio.wait_for(turn.start(), 10)
    assert outcome.generated == "Rivers flow."
    assert len(llm.prompts) == 2 and len(llm.prompts[1]) == 2  # system + this question
    shown = "".join(e.text for e in events if isinstance(e, ev.BotLlmText))
    assert shown == "Rivers flow."  # the echo never reached a client


class _CopyingAfterFourWords(_CopyingLlm):
    """Its copy first differs from nothing in its first four words (the first piece
    goes out after four words without punctuation)."""

    def stream_chat(self, messages: Any, params: Any, cancel: Any, stats: Any) -> Iterator[str]:
        self.prompts.append(messages)
        words = "It's 11pm, but I'm not here today." if len(messages) > 2 else "Fresh words."
        for piece in words.split(" "):
            if cancel.is_set():
                return
            time.sleep(0.002)
            yield piece + " "


async def test_an_echo_is_caught_even_when_its_first_piece_is_short() -> None:
    llm = _CopyingAfterFourWords()
    events: list[object] = []
    msgs = chat("How late is it?", "It's 11pm, but I'm not here today.", now="Pizza timer?")
    spec = TurnSpec("s1", msgs, speak=False, first_max_words=4)
    turn = BotTurn(spec, llm, None, None, events.append)  # type: ignore[arg-type]
    outcome = await asyncio.wait_for(turn.start(), 10)
    assert outcome.generated == "Fresh words."
    assert "".join(e.text for e in events if isinstance(e, ev.BotLlmText)).strip() == "Fresh words."


def test_the_devices_confirmation_of_an_action_is_never_the_models() -> None:
    """The model copied "Done: …" to claim an action no tool did."""
    earlier = ("Done: skylight set to closed.",)
    assert echo.judge("Done: switch the porch light off for you.", earlier) == echo.ECHO
    assert echo.judge("Done: switch", ()) == echo.ECHO
    assert echo.judge(echo.settled("Done"), earlier) == echo.WAIT
    assert echo.judge("Done deal, see you", ("Other words.",)) == echo.FRESH
    from rtvi_edge.tools import answers

    assert answers.CONFIRMED == "Done:"


def test_a_device_replys_shape_is_never_the_models_when_no_tool_ran() -> None:
    """The model copied the shapes of the device's fixed replies from its context."""
    for copied in (
        "Timer set for 2 pounds.",
        "Cancelled.",
        "Windy: the wind is blowing your way.",
        "Heating oil: 41 percent.",
        "Sorry, I couldn't do that: it is stuck.",
        "I can't tell: I have no way to check that from here.",
        "Volume 40 percent.",
    ):
        assert echo.judge(copied, (), finished=True) == echo.ECHO, copied
        assert echo.judge(copied, (), finished=True, shapes=False) == echo.FRESH, copied
    for fresh in (
        "It is 12:30 now.",
        "The answer is: no.",  # a clause before the colon, not a thing's facts
        "Rivers flow to the sea.",
        "Sure, here is one: a pun.",
        "I can't tell you how glad I am.",
    ):
        assert echo.judge(fresh, (), finished=True) == echo.FRESH, fresh
    assert echo.judge("Heating", ()) == echo.WAIT  # may still become "Heating oil: …"
    assert echo.judge("Rivers flow to the", ()) == echo.FRESH  # four words, no colon


def test_a_tool_ran_this_turn_only_after_the_last_user_message() -> None:
    call = {"role": "assistant", "content": '{"function_call": {"name": "get_time"}}'}
    before = [{"role": "user", "content": "Q1"}, call, {"role": "user", "content": "Q2"}]
    assert not echo.tool_ran(before)
    assert echo.tool_ran([*before, call, {"role": "tool", "content": "{}"}])


class _CopyingShapes(_CopyingLlm):
    """Answers in a fixed reply's shape when it sees history, properly without."""

    def stream_chat(self, messages: Any, params: Any, cancel: Any, stats: Any) -> Iterator[str]:
        self.prompts.append(messages)
        words = "Timer set for 2 pounds." if len(messages) > 2 else "32 ounces, I think."
        for piece in words.split(" "):
            if cancel.is_set():
                return
            time.sleep(0.002)
            yield piece + " "


async def test_a_copied_reply_shape_is_dropped_unheard_and_asked_again() -> None:
    llm = _CopyingShapes()
    events: list[object] = []
    msgs = chat("Set a timer for 5 minutes.", "Timer set for 5 minutes.", now="2 pounds in ounces")
    spec = TurnSpec("s1", msgs, speak=False, first_max_words=4)
    turn = BotTurn(spec, llm, None, None, events.append)  # type: ignore[arg-type]
    outcome = await asyncio.wait_for(turn.start(), 10)
    assert outcome.generated == "32 ounces, I think."
    shown = "".join(e.text for e in events if isinstance(e, ev.BotLlmText)).strip()
    assert "Timer" not in shown

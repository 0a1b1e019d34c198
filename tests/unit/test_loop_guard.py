"""An answer that repeats itself stops after the first copy (pipeline/loop_guard.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

from rtvi_edge.pipeline.bot_turn import BotTurn, TurnSpec
from rtvi_edge.pipeline.chunker import TextChunker
from rtvi_edge.pipeline.loop_guard import LoopGuard


def stream(text: str, size: int = 3) -> tuple[str, int | None]:
    """Push `text` in pieces of `size` characters like a token stream; what is kept."""
    guard = LoopGuard()
    pushed = ""
    for i in range(0, len(text), size):
        piece = text[i : i + size]
        cut = guard.push(piece)
        pushed += piece
        if cut is not None:
            return pushed[:cut], i
    return pushed, None


def test_a_word_said_again_and_again_stops_after_the_first() -> None:
    kept, at = stream("No, no, no, no, no, no, no, no, no, no, no, no.")
    assert kept == "No"
    assert at is not None and at < 15  # stopped early, not at the end


def test_a_long_clause_said_twice_stops_after_one() -> None:
    clause = 'A: The answer to the question "Why do we dream?" is: '
    kept, at = stream("Well. " + clause * 4)
    assert kept == "Well. " + clause.rstrip(": ")
    assert at is not None and at < len("Well. " + clause * 2) + 3


def test_a_short_phrase_must_come_three_times() -> None:
    assert stream("It is what it is, it is what it is.")[1] is None
    assert stream("Knock knock. Who's there?")[1] is None
    kept, at = stream("I see. I see. I see. I see.")
    assert at is not None and kept == "I see"


def test_ordinary_answers_pass_untouched() -> None:
    for text in (
        "The capital of France is Paris. It is also the largest city in France.",
        "Step one, mix the flour. Step two, add the eggs. Step three, bake it.",
        "Monday at nine, Tuesday at ten, Wednesday at nine.",
        "Yes. Yes, it is.",
    ):
        assert stream(text) == (text, None), text


def test_a_word_split_across_pieces_counts_once() -> None:
    guard = LoopGuard()
    cuts = [guard.push(p) for p in ("ba", "na", "na ", "ba", "nana ", "ba", "nana", " ")]
    assert cuts[:-1] == [None] * 7  # the third "banana" may still grow: not judged yet
    assert cuts[-1] == len("banana")


def test_the_chunker_forgets_what_is_not_out_yet() -> None:
    chunker = TextChunker(first_chunk_words=3)
    out = chunker.push("No, no, no, more words that wait")
    assert out == ["No, no, no,"]
    # Cut inside what is already out: the end moves to what is out.
    assert chunker.drop_after(3) == len("No, no, no,")
    assert chunker.flush() == []
    chunker = TextChunker(first_chunk_words=3)
    chunker.push("Hello there you, and more and more")
    assert chunker.drop_after(len("Hello there you, and more")) == len("Hello there you, and more")
    assert chunker.flush() == ["and more"]


class _LoopingLlm:
    """Answers sensibly, then falls into a loop until it is stopped."""

    def __init__(self) -> None:
        self.pieces = 0

    def stream_chat(self, messages: Any, params: Any, cancel: Any, stats: Any) -> Iterator[str]:
        for piece in ["Sure.", " No,"] + [" no,"] * 300:
            if cancel.is_set():
                return
            self.pieces += 1
            time.sleep(0.002)  # a model takes a while per token
            yield piece

    def count_tokens(self, text: str) -> int:
        return len(text.split())


async def test_a_looping_answer_stops_and_keeps_what_was_said() -> None:
    llm = _LoopingLlm()
    events: list[object] = []
    turn = BotTurn(
        TurnSpec("s1", [{"role": "user", "content": "hi"}], speak=False),
        llm,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        None,
        events.append,
    )
    outcome = await asyncio.wait_for(turn.start(), 10)
    assert outcome.generated == "Sure. No"
    assert outcome.spoken == "Sure. No"
    assert llm.pieces < 100  # generation stopped, not run to max_tokens

"""The LLM's end-of-turn probability with the real SmolLM2 (llama.cpp): words that go
on score lower than a finished request, and the answer that follows finds the
probability's tokens in the cache (only the tokens after the user's words are
evaluated for it)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from rtvi_edge.config import Config
from rtvi_edge.engines.base import EndOfTurnModel, GenerationParams, GenerationStats
from rtvi_edge.engines.hub import build_llm
from rtvi_edge.engines.llm_llama import LlamaLlm
from rtvi_edge.pipeline.context import LlmContext

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def llm() -> LlamaLlm:
    model = build_llm(Config())
    assert isinstance(model, LlamaLlm) and isinstance(model, EndOfTurnModel)
    return model


def messages(text: str) -> list[dict[str, Any]]:
    config = Config()
    return LlmContext(config.llm.system_prompt, [], 1024, count_tokens=len).for_llm(
        pending_user=text
    )


def test_words_that_go_on_score_lower_than_a_finished_request(llm: LlamaLlm) -> None:
    pairs = [
        ("What is the weather like in", "What is the weather like in Lisbon today?"),
        ("Add bread and", "Add bread and butter to the shopping list."),
        ("Remind me to call my sister on", "Remind me to call my sister on Sunday."),
    ]
    for unfinished, finished in pairs:
        p_open = llm.end_of_turn_probability(messages(unfinished))
        p_done = llm.end_of_turn_probability(messages(finished))
        assert p_open is not None and p_done is not None
        assert 0.0 <= p_open < p_done <= 1.0, (unfinished, p_open, p_done)


def test_the_answer_reuses_the_probability_s_tokens(llm: LlamaLlm) -> None:
    msgs = messages("Name a fruit that is yellow.")
    assert llm.end_of_turn_probability(msgs) is not None
    inner = llm._llm
    evaluated: list[int] = []
    original = inner.eval

    def counting(tokens: Any) -> None:
        evaluated.append(len(tokens))
        original(tokens)

    inner.eval = counting  # type: ignore[method-assign]
    try:
        stream = llm.stream_chat(
            msgs, GenerationParams(max_tokens=1), threading.Event(), GenerationStats()
        )
        list(stream)
    finally:
        del inner.eval
    # the prompt's evaluation: only what follows the user's words (end of message, the
    # assistant's header), not the system prompt and the question again
    assert evaluated and evaluated[0] <= 8, evaluated

import pytest

from rtvi_edge.errors import ServiceConfigError
from rtvi_edge.pipeline.context import LlmContext, validate_messages


def test_trim_drops_oldest_turns_and_keeps_system_prompt() -> None:
    ctx = LlmContext("You are terse.", history_tokens=30, count_tokens=lambda t: len(t.split()))
    for i in range(10):
        ctx.add_user(f"question number {i} with some words")
        ctx.add_assistant(f"answer number {i}")
    msgs = ctx.for_llm()
    assert msgs[0] == {"role": "system", "content": "You are terse."}
    assert msgs[1]["role"] == "user"
    assert "question number 9" in msgs[-2]["content"]
    assert all("number 0" not in m["content"] for m in msgs)


def test_set_messages_takes_system_prompt() -> None:
    ctx = LlmContext("old")
    ctx.set_messages([{"role": "system", "content": "new"}, {"role": "user", "content": "hi"}])
    assert ctx.messages() == [
        {"role": "system", "content": "new"},
        {"role": "user", "content": "hi"},
    ]


def test_pending_user_is_not_stored() -> None:
    ctx = LlmContext("p")
    assert ctx.for_llm(pending_user="hey")[-1] == {"role": "user", "content": "hey"}
    assert ctx.turns == []


@pytest.mark.parametrize(
    "bad", ["x", [1], [{"role": "robot", "content": "x"}], [{"role": "user", "content": 3}]]
)
def test_bad_messages_are_named(bad: object) -> None:
    with pytest.raises(ServiceConfigError):
        validate_messages(bad)

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


def test_a_refused_question_is_not_shown_to_the_model() -> None:
    """A 135M model shown "I can't tell: …" says it again to the next, plain question."""
    from rtvi_edge.tools.honesty import cannot_tell

    ctx = LlmContext("sys", history_tokens=1000)
    ctx.add_user("Is the garage door open?")
    ctx.add_assistant(cannot_tell("device_state"))
    ctx.add_user("Tell me a joke.")
    ctx.add_assistant("Why did the chicken cross the road?")
    view = ctx.for_llm("How long do goldfish live?")
    assert [m["content"] for m in view] == [
        "sys",
        "Tell me a joke.",
        "Why did the chicken cross the road?",
        "How long do goldfish live?",
    ]
    # Still in the context the client reads (llm:get_context): it was said.
    assert cannot_tell("device_state") in [m["content"] for m in ctx.messages()]

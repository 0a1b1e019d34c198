"""What is said after a tool ran: this turn's result, plainly (tools/answers.py)."""

from __future__ import annotations

import pytest

from rtvi_edge.pipeline.context import LlmContext
from rtvi_edge.tools import answers
from rtvi_edge.tools.registry import Tool, tool_from_schema


def fn(name: str, props: dict[str, object] | None = None) -> Tool:
    params = {"type": "object", "properties": props or {}}
    return tool_from_schema({"name": name, "description": "", "parameters": params})


PORCH = fn("set_porch_light", {"on": {"type": "boolean"}})
FAN = fn("set_fan_speed", {"speed": {"type": "string"}})
SPRINKLER = fn("start_sprinkler", {"zone": {"type": "string"}, "minutes": {"type": "integer"}})
MEDIA = fn("media_control", {"command": {"type": "string"}})
POOL = fn("get_pool_temperature")


@pytest.mark.parametrize(
    ("result", "said"),
    [
        ({"error": "the lock is jammed"}, "Sorry, I couldn't do that: the lock is jammed."),
        (
            {"ok": False, "reason": "a window is open"},
            "Sorry, I couldn't do that: a window is open.",
        ),
        ({"success": False}, "Sorry, I couldn't do that."),
        ({"status": "failed", "message": "offline"}, "Sorry, I couldn't do that: offline."),
        (
            {"error": "late", "timeout": True},
            "Sorry, the app did not answer in time, so I can't tell.",
        ),
    ],
)
def test_a_failure_is_said_plainly(result: dict[str, object], said: str) -> None:
    assert answers.failure(result) == said


@pytest.mark.parametrize("result", [{"ok": True}, {}, {"status": "ok"}, {"temperature": 21}])
def test_a_success_is_no_failure(result: dict[str, object]) -> None:
    assert answers.failure(result) is None


def test_an_action_is_confirmed_from_its_own_call() -> None:
    # the bug: this turn's {"ok": true} for the porch light, not an earlier result
    assert answers.is_action(PORCH) and not answers.is_action(POOL)
    # a function named for a thing, not a verb, that answers a bare "ok" did its job
    assert answers.is_query(POOL) and not answers.is_query(MEDIA) and not answers.is_query(PORCH)
    assert answers.confirmation(PORCH, {"on": False}, {"ok": True}) == (
        "Done: the porch light is now off."
    )
    assert answers.confirmation(FAN, {"speed": "high"}, {"ok": True}) == (
        "Done: fan speed set to high."
    )
    assert answers.confirmation(SPRINKLER, {"zone": "front lawn", "minutes": 10}, {}) == (
        "Done: started the sprinkler: front lawn, 10 minutes."
    )
    assert answers.confirmation(MEDIA, {"command": "pause"}, {"ok": True}) == (
        "Done: media control: pause."
    )
    # what the result adds is said too
    said = answers.confirmation(FAN, {"speed": "low"}, {"ok": True, "rpm": 900})
    assert said == "Done: fan speed set to low (rpm 900)."


def test_a_query_summary_holds_the_values() -> None:
    assert answers.summary(POOL, {"celsius": 26.5}) == "Pool temperature: celsius 26.5."
    washer = fn("get_washer_status")
    said = answers.summary(washer, {"cycle": "rinsing", "minutes_left": 23})
    assert "rinsing" in said and "23" in said
    assert answers.summary(POOL, {"ok": True}) == "The pool temperature gave no details."
    lock = fn("get_door_lock")
    assert answers.summary(lock, {"locked": False}) == "Door lock: unlocked."


@pytest.mark.parametrize(
    ("answer", "ok"),
    [
        ("The pool is at 26.5 degrees.", True),
        ("The pool water is 26.5 degrees Celsius, nice for a swim.", True),
        ("The temperature inside the house is 21.5 degrees Celsius.", False),  # another's
        ("The pool is warm.", False),  # no value of the result
        ("Sorry, I couldn't check the pool.", False),
        ('{"celsius": 26.5}', False),
        ("", False),
    ],
)
def test_grounded_answers_carry_this_result(answer: str, ok: bool) -> None:
    assert answers.grounded(answer, {"celsius": 26.5}, "How warm is the pool?") is ok


def test_the_prompt_holds_this_result_only() -> None:
    msgs = answers.answer_messages(
        "Be brief.", "How warm is the pool?", POOL, {}, {"celsius": 26.5}
    )
    assert len(msgs) == 2 and "26.5" in msgs[0]["content"] and "Be brief." in msgs[0]["content"]
    assert msgs[1] == {"role": "user", "content": "How warm is the pool?"}


def test_earlier_tool_exchanges_leave_the_models_view_not_the_context() -> None:
    ctx = LlmContext("sys")
    ctx.add_user("How warm is it inside?")
    ctx.append({"role": "assistant", "content": '{"function_call": {"name": "get_t"}}'})
    ctx.append({"role": "tool", "content": '{"tool_call_id": "c", "result": {"t": 21.5}}'})
    ctx.add_assistant("It is 21.5 degrees inside.")
    ctx.add_user("Turn the porch light off.")
    seen = ctx.for_llm()
    assert [m["role"] for m in seen] == ["system", "user", "assistant", "user"]
    assert len(ctx.messages()) == 6  # llm:get_context still has them
    # a client's tool result for the turn in progress stays in view
    ctx.append({"role": "tool", "content": '{"result": "on"}'})
    assert ctx.for_llm()[-1]["role"] == "tool"

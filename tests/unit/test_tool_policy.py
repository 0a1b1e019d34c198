"""The tool policy without a model: which tool, which arguments, and the honest replies."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from rtvi_edge import events as ev
from rtvi_edge.engines.base import GenerationParams, GenerationStats
from rtvi_edge.pipeline.bot_turn import BotTurn, TurnSpec
from rtvi_edge.tools import answers, honesty, slots
from rtvi_edge.tools.policy import ToolPolicy
from rtvi_edge.tools.registry import Tool, ToolRegistry, tool_from_schema
from rtvi_edge.tools.runner import ToolRunner

GARAGE = tool_from_schema(
    {
        "type": "function",
        "function": {
            "name": "get_garage_door",
            "description": "Tells whether the garage door is open or closed.",
            "parameters": {"type": "object", "properties": {}},
        },
    }
)
WEATHER = tool_from_schema(
    {
        "name": "get_weather",
        "description": "Get the current weather forecast for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    }
)
LIGHT = Tool(
    "control_device",
    "Turn a home device on or off",
    {
        "type": "object",
        "properties": {
            "device": {"type": "string", "enum": ["kitchen light", "fan"]},
            "state": {"type": "string", "enum": ["on", "off"]},
        },
        "required": ["device", "state"],
    },
    keywords=("turn", "switch", "kitchen", "light", "fan"),
)
TOOLS = [GARAGE, WEATHER, LIGHT]
POLICY = ToolPolicy()


def choice(text: str, tools: list[Tool] = TOOLS) -> tuple[str | None, dict[str, Any]]:
    d = POLICY.decide(text, tools, None)
    return (d.tool.name if d.tool else None), d.args


@pytest.mark.parametrize(
    "text",
    [
        "Is the garage door open?",
        "Can you check the garage door for me?",
        "Did I leave the garage door open?",
        "Is the garage closed?",
    ],
)
def test_a_described_client_function_is_chosen_for_natural_phrasings(text: str) -> None:
    assert choice(text) == ("get_garage_door", {})


@pytest.mark.parametrize(
    "text",
    [
        "What is the capital of France?",
        "Tell me a joke about the weather.",
        "How do I open a jar?",
        "How do you spell garage?",
        "I like the weather today.",
    ],
)
def test_chit_chat_calls_nothing(text: str) -> None:
    assert choice(text)[0] is None


def test_arguments_come_from_the_words_said() -> None:
    assert choice("Switch off the fan please") == (
        "control_device",
        {"device": "fan", "state": "off"},
    )
    assert choice("What's the weather like in New York right now?") == (
        "get_weather",
        {"city": "New York"},
    )


def test_an_enum_the_request_does_not_name_is_not_guessed() -> None:
    d = POLICY.decide("Turn on the porch light", TOOLS, None)
    assert d.tool is None
    assert d.honest_reply() == honesty.REPLIES["device_command"]


def test_another_door_is_not_the_garage_door() -> None:
    d = POLICY.decide("Is the front door locked?", TOOLS, None)
    assert d.tool is None and d.need == "device_state"
    assert "can't tell" in (d.honest_reply() or "")


@pytest.mark.parametrize(
    ("text", "need"),
    [
        ("Is the back door locked?", "device_state"),
        ("Did I leave the oven on?", "device_state"),
        ("Is the garage door open?", "device_state"),
        ("Turn on the kitchen light", "device_command"),
        ("How much time is left on my timer?", "timer"),
        ("What time is it?", "clock"),
        ("Will it rain in Paris tomorrow?", "weather"),
        ("What time did the Titanic sink?", None),
        ("Tell me a story about a garage door", None),
        ("What is the capital of France?", None),
        ("How are you today?", None),
    ],
)
def test_what_only_a_tool_can_know(text: str, need: str | None) -> None:
    assert honesty.needs_tool(text) == need


def test_a_failed_or_timed_out_tool_is_said_plainly() -> None:
    timed_out = answers.failure({"error": "x", "timeout": True})
    assert timed_out is not None and "did not answer in time" in timed_out
    failed = answers.failure({"error": "unknown device 'porch'"})
    assert failed is not None and failed.startswith("Sorry, I couldn't")


def test_local_slots() -> None:
    assert slots.local_value("level", {"type": "number"}, "volume 70.") == 70
    assert slots.local_value("level", {"type": "number"}, "set it to 30 or 40") is None
    assert slots.local_value("direction", {"enum": ["up", "down"]}, "a bit louder") == "up"
    assert slots.local_value("muted", {"type": "boolean"}, "turn the sound back on") is False
    enum = {"enum": ["kitchen light", "living room lamp"]}
    assert slots.local_value("device", enum, "the lamp in the living room") == "living room lamp"
    own = frozenset({"shopping", "list"})
    assert slots.free_text("Add apples to the shopping list", own) == "apples"
    assert slots.free_text("Is it going to rain in Seattle today?") == "Seattle"
    assert slots.free_text("put it on the list") is None
    assert not slots.said("Lyon", "what's the weather in Paris")


def test_client_schema_examples_and_keywords() -> None:
    t = tool_from_schema(
        {"name": "play", "description": "Play music", "examples": ["Put on some jazz"]}
    )
    assert t.examples == ("Put on some jazz",)
    with pytest.raises(ValueError, match="keywords"):
        tool_from_schema({"name": "x", "keywords": "not a list"})


# -- the turn speaks the policy's honest reply instead of the model's guess --------------
class FailingLlm:
    """Fails the test if the model is asked to answer: the reply must be fixed words."""

    model_name = "none"

    def stream_chat(self, *a: Any, **k: Any) -> Any:
        raise AssertionError("the model must not answer this")

    def count_tokens(self, text: str) -> int:
        return len(text.split())


async def _turn(text: str, tools: ToolRunner | None) -> tuple[str, list[ev.Event]]:
    seen: list[ev.Event] = []
    spec = TurnSpec("s", [{"role": "user", "content": text}], params=GenerationParams())
    turn = BotTurn(spec, FailingLlm(), None, None, seen.append, tools=tools)  # type: ignore[arg-type]
    outcome = await turn.start()
    assert isinstance(outcome.stats, GenerationStats)
    return outcome.generated, seen


async def test_no_tool_for_a_state_question_gives_a_fixed_honest_reply() -> None:
    said, seen = await _turn("Is the garage door open?", ToolRunner(ToolRegistry()))
    assert said == honesty.REPLIES["device_state"]
    assert any(isinstance(e, ev.BotLlmText) and e.text == said for e in seen)
    said, _ = await _turn("Turn on the kitchen light", None)  # no tools at all: the same
    assert said == honesty.REPLIES["device_command"]


async def test_a_failing_tool_is_reported_not_guessed() -> None:
    async def broken(args: dict[str, Any]) -> Any:
        raise RuntimeError("the sensor is offline")

    registry = ToolRegistry()
    registry.add(Tool(GARAGE.name, GARAGE.description, handler=broken))
    said, seen = await _turn("Is the garage door open?", ToolRunner(registry))
    assert "sensor is offline" in said and said.startswith("Sorry")
    assert [type(e).__name__ for e in seen if "FunctionCall" in type(e).__name__] == [
        "FunctionCallStarted",
        "FunctionCallStopped",
    ]


async def test_a_client_function_that_never_answers_times_out_honestly() -> None:
    runner = ToolRunner(ToolRegistry(), client_timeout=0.05)
    runner.client_tools = [GARAGE]
    runner.can_call_client = lambda: True
    said, _ = await asyncio.wait_for(_turn("Is the garage door open?", runner), 5)
    assert "did not answer in time" in said


async def test_a_builtin_tool_with_a_reply_is_answered_in_its_own_words() -> None:
    async def clock(args: dict[str, Any]) -> dict[str, Any]:
        return {"time": "4:05 AM", "date": "Monday"}

    registry = ToolRegistry()
    registry.add(Tool("get_time", "Tell the time", handler=clock, reply="It is {time}."))
    said, _ = await _turn("Got the time?", ToolRunner(registry))
    assert said == "It is 4:05 AM."  # not the model's paraphrase of it


def test_a_question_never_calls_a_tool_that_changes_things() -> None:
    cancel = Tool("cancel_timer", "Cancel a running timer", keywords=("timer", "cancel"))
    listing = Tool("list_timers", "Say which timers are running", keywords=("timer", "running"))
    assert choice("Is my timer still running?", [cancel])[0] is None
    assert choice("Is my timer still running?", [cancel, listing])[0] == "list_timers"
    assert choice("Could you cancel my timer?", [cancel, listing])[0] == "cancel_timer"

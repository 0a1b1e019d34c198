"""Words in another sense call nothing: "seven times eight" is no clock question, "lights
out" no device command, "set a time for the meeting" no timer (tools/senses.py, the
intents and the word scorer); the requests they resemble still call their tools."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.tools_cases import DEVICES
from bench.tools_eval import build_eval_tools
from rtvi_edge.tools import honesty
from rtvi_edge.tools.intents import IntentMatcher, intents_for
from rtvi_edge.tools.policy import ToolPolicy
from rtvi_edge.tools.registry import Tool

NEAR_MISSES = {
    "time": [
        "What is seven times eight?",
        "How many times have I asked you that today?",
        "What does timeless mean?",
        "Times Square is in which city?",
        "What's the timeline of the Roman empire?",
        "What time zone is Tokyo in?",
        "I had the time of my life at the concert.",
        "How many times does the heart beat in a minute?",
        "How many days are in a leap year?",
        "What's the time complexity of bubble sort?",
    ],
    "timer": [
        "Set a time for the meeting with Ana.",
        "I need more time to think.",
        "Water the front lawn for 10 minutes.",
        "Have you read the New York Times today?",
        "Don't stop believing is a great song.",
        "Stop. What is two plus two?",
        "Stop me if you've heard this one.",
        "Disarm the security alarm.",
        "Arm the burglar alarm system.",
    ],
    "device": [
        "Lights out at nine tonight for the kids, any bedtime story ideas?",
        "It was lights out for the home team last night.",
        "Turn off your brain and relax, that's my motto.",
        "Turn on the charm, I'm meeting my in-laws.",
        "How do I turn off my emotions?",
        "My fan club wants a new name.",
    ],
}
STILL_CALLED = {
    "What time is it?": "get_time",
    "What's the time?": "get_time",
    "Set an alarm for 7 minutes.": "set_timer",
    "Could you check the time for me?": "get_time",
    "Which day of the week is it?": "get_time",
    "Set a timer for twelve minutes.": "set_timer",
    "How much time is left?": "list_timers",
    "Count down two minutes for me.": "set_timer",
    "Shh, be quiet.": "stop",
    "Stop talking, please.": "stop",
    "Okay, that's enough.": "stop",
    "Turn on the kitchen light.": "control_device",
}


@pytest.fixture(scope="module")
def tools(tmp_path_factory: pytest.TempPathFactory) -> list[Tool]:
    return build_eval_tools(Path(tmp_path_factory.mktemp("senses")))


def matcher(tools: list[Tool]) -> IntentMatcher:
    return IntentMatcher(intents_for(""), list(DEVICES), {t.name for t in tools})


@pytest.mark.parametrize(
    ("family", "text"), [(f, t) for f, texts in NEAR_MISSES.items() for t in texts]
)
def test_a_near_miss_fires_no_intent_and_calls_nothing(
    tools: list[Tool], family: str, text: str
) -> None:
    match = matcher(tools).match(text)
    assert match is None or match.intent.name == "calculate", (family, text, match)
    decision = ToolPolicy().decide(text, tools, None)
    assert decision.tool is None, (family, text, decision.why)
    if family == "device":
        assert honesty.needs_tool(text) != "device_command"


@pytest.mark.parametrize(("text", "tool"), STILL_CALLED.items())
def test_what_they_resemble_still_calls_its_tool(tools: list[Tool], text: str, tool: str) -> None:
    match = matcher(tools).match(text)
    chosen = match.intent.tool if match else None
    if chosen is None:
        decision = ToolPolicy().decide(text, tools, None)
        chosen = decision.tool.name if decision.tool else None
    assert chosen == tool, text


def test_sums_go_to_the_calculator_intent(tools: list[Tool]) -> None:
    match = matcher(tools).match("What is seven times eight?")
    assert match is not None and match.intent.tool == "calculate"
    assert match.response({"answer": "7 times 8 is 56."}) == "7 times 8 is 56."
    # the word scorer never picks it: only a whole sum does
    assert ToolPolicy().decide("Could you calculate something", tools, None).tool is None


def test_a_device_intent_needs_a_short_thing_that_ends_the_request(tools: list[Tool]) -> None:
    m = matcher(tools)
    porch = m.match("Turn on the porch light")
    assert porch is not None and porch.intent.name == "no_such_device"
    assert m.match("Turn off your brain and relax, that's my motto.") is None
    assert m.match("Turn on the charm, I'm meeting my in-laws.") is None

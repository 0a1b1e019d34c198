"""Tools without models: numbers, intents, registry errors and timeouts, timers."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from rtvi_edge import events as ev
from rtvi_edge.tools.intents import IntentMatcher, intents_for, normalize
from rtvi_edge.tools.matching import ToolMatcher
from rtvi_edge.tools.numbers import parse_duration, parse_number, say_duration
from rtvi_edge.tools.registry import Tool, ToolRegistry, tool_from_schema
from rtvi_edge.tools.timers import Timer, TimerService

ALL_TOOLS = {
    "get_time",
    "set_timer",
    "cancel_timer",
    "list_timers",
    "set_volume",
    "change_volume",
    "mute_speaker",
    "stop",
    "control_device",
}


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("5 seconds", 5),
        ("five minutes", 300),
        ("an hour and a half", 5400),
        ("twenty one seconds", 21),
        ("1.5 minutes", 90),
        ("2 hours and 10 minutes", 7800),
        ("a couple of minutes", 120),
        ("ninety seconds", 90),
        ("three and a half minutes", 210),
        ("1 and a half hours", 5400),
    ],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_numbers_and_saying() -> None:
    assert parse_number("forty two") == 42 and parse_number("one hundred") == 100
    assert parse_number("lots") is None
    assert say_duration(3725) == "1 hour and 2 minutes and 5 seconds"


def matcher() -> IntentMatcher:
    return IntentMatcher(intents_for(""), ["kitchen light", "fan"], ALL_TOOLS)


def test_a_countdown_is_a_timer() -> None:
    m = matcher()
    start = m.match("Start a countdown for four and a half minutes.")
    assert start is not None and start.intent.name == "set_timer"
    assert start.args == {"seconds": 270}
    stop = m.match("Stop the countdown.")
    assert stop is not None and stop.intent.name == "cancel_timer"
    assert m.match("Set a countdown for the rocket launch.") is None  # no duration said


@pytest.mark.parametrize(
    ("text", "intent", "args"),
    [
        ("What time is it?", "get_time", {}),
        ("Hey, what's the date today?", "get_date", {}),
        ("Could you set a timer for ten minutes please?", "set_timer", {"seconds": 600.0}),
        ("Set a 5 second timer.", "set_timer", {"seconds": 5.0}),
        ("Cancel the timer.", "cancel_timer", {}),
        ("Set the volume to 30 percent", "set_volume", {"level": 30.0}),
        ("Louder!", "volume_up", {"direction": "up"}),
        ("Never mind.", "stop", {}),
        ("Turn on the kitchen light", "device_on", {"device": "kitchen light", "state": "on"}),
        ("switch the fan off", "device_off", {"device": "fan", "state": "off"}),
    ],
)
def test_intents_match(text: str, intent: str, args: dict[str, Any]) -> None:
    m = matcher().match(text)
    assert m is not None and m.intent.name == intent and m.args == args


@pytest.mark.parametrize(
    "text",
    [
        "What time is it in Tokyo?",
        "Tell me about timers.",
        "Set a timer",
        "stop the war",
    ],
)
def test_intents_leave_the_rest_to_the_llm(text: str) -> None:
    assert matcher().match(text) is None


@pytest.mark.parametrize(
    ("devices", "tools", "text", "answer"),
    [
        # a device that is not set up: an honest answer, never the LLM claiming it did it
        (["kitchen light"], ALL_TOOLS, "Turn on the garage door", "no device by that name"),
        ([], ALL_TOOLS - {"control_device"}, "turn on the kitchen light", "no device by that"),
        # set up, but no MQTT to reach it (the chat command)
        (["kitchen light"], ALL_TOOLS - {"control_device"}, "switch off the kitchen light", "MQTT"),
    ],
)
def test_device_commands_never_reach_the_llm(
    devices: list[str], tools: set[str], text: str, answer: str
) -> None:
    m = IntentMatcher(intents_for(""), devices, tools).match(text)
    assert m is not None and m.intent.tool == ""  # answered without a tool
    assert answer in m.response({})


def test_intents_file_extends_and_overrides(tmp_path: Path) -> None:
    extra = tmp_path / "mine.toml"
    extra.write_text(
        '[[intent]]\nname = "bedtime"\ntool = "set_timer"\n'
        'patterns = ["bedtime"]\nargs = { seconds = 1800 }\n'
        'response = "Half an hour to bed."\n'
    )
    m = IntentMatcher(intents_for(str(extra)), [], ALL_TOOLS).match("Bedtime!")
    assert m is not None and m.args == {"seconds": 1800}
    assert m.response({}) == "Half an hour to bed."
    assert normalize("  Please, STOP!! ") == "stop"


async def test_registry_errors_and_timeouts() -> None:
    async def slow(args: dict[str, Any]) -> Any:
        await asyncio.sleep(5)

    async def broken(args: dict[str, Any]) -> Any:
        raise RuntimeError("disk on fire")

    async def echo(args: dict[str, Any]) -> Any:
        return args["x"]

    reg = ToolRegistry()
    reg.add(Tool("slow", "", handler=slow, timeout=0.05))
    reg.add(Tool("broken", "", handler=broken))
    reg.add(
        Tool(
            "echo",
            "",
            {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]},
            handler=echo,
        )
    )
    assert "longer than 0.05 s" in (await reg.call("slow", {}))["error"]
    assert "disk on fire" in (await reg.call("broken", {}))["error"]
    assert "missing required argument 'x'" in (await reg.call("echo", {}))["error"]
    assert "must be of type integer" in (await reg.call("echo", {"x": "1"}))["error"]
    assert await reg.call("echo", {"x": 3}) == {"result": 3}
    assert "no such tool" in (await reg.call("nope", {}))["error"]


def test_client_tool_schemas() -> None:
    t = tool_from_schema(
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather for a city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    )
    assert t.name == "get_weather" and t.handler is None
    for bad in [1, {"function": {}}, {"name": "x", "parameters": {"type": "array"}}]:
        with pytest.raises(ValueError):
            tool_from_schema(bad)


def test_tool_matching_is_lexical() -> None:
    tools = [
        Tool("get_weather", "Get the weather forecast for a city"),
        Tool("set_timer", "Start a countdown timer", keywords=("alarm",)),
    ]
    matcher = ToolMatcher(tools)

    def names(text: str) -> list[str]:
        return [s.tool.name for s in matcher.scores(text)]

    assert names("What's the weather in Paris?") == ["get_weather"]
    assert names("wake me with an alarm") == ["set_timer"]
    assert names("What is the capital of France?") == []


async def test_timers_fire_and_survive_a_restart(tmp_path: Path) -> None:
    bus = ev.EventBus()
    sub = bus.subscribe()
    fired: list[str] = []
    rang = asyncio.Event()

    def ring(timer: Timer) -> None:
        fired.append(timer.label)
        rang.set()

    svc = TimerService(tmp_path, bus, ring)
    svc.start()
    svc.add(0.05, "tea", "s1")
    svc.add(3600, "oven", "s1")
    await asyncio.wait_for(rang.wait(), 10)
    assert fired == ["tea"]
    assert [t.label for t in svc.pending()] == ["oven"]
    svc.close()
    saved = json.loads((tmp_path / "timers.json").read_text())
    assert [t["label"] for t in saved] == ["oven"]
    # "restart": a timer that came due while the device was off goes off at once
    saved[0]["due"] = time.time() - 5
    (tmp_path / "timers.json").write_text(json.dumps(saved))
    rang.clear()
    svc2 = TimerService(tmp_path, bus, ring)
    svc2.start()
    await asyncio.wait_for(rang.wait(), 10)
    assert fired == ["tea", "oven"]
    actions = []
    while not sub.queue.empty():
        e = sub.queue.get_nowait()
        assert isinstance(e, ev.TimerEvent)
        actions.append((e.label, e.action))
    assert actions == [("tea", "set"), ("oven", "set"), ("tea", "fired"), ("oven", "fired")]
    with pytest.raises(ValueError):
        svc2.add(0, "", "s")
    svc2.close()

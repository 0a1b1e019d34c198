"""Answers you can trust, through the real RTVI client (@pipecat-ai/client-js) and the
default model (issue #26): an action's answer is this turn's result, never an earlier
call's; a failure is said; sums are computed, not mistaken for the time; and words in
another sense ("times", "a time for", "turn off your brain") fire no intent."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from tests.integration.daemon_harness import running_daemon
from tests.integration.rtvi_client import ClientRun, run_client

pytestmark = pytest.mark.integration

INDOOR = {
    "type": "function",
    "function": {
        "name": "get_indoor_temperature",
        "description": "Temperature inside the house in degrees Celsius.",
        "parameters": {"type": "object", "properties": {}},
    },
}


def light(name: str, where: str) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": f"Turns the {where} light on or off.",
            "parameters": {
                "type": "object",
                "properties": {"on": {"type": "boolean"}},
                "required": ["on"],
            },
        },
    }


def declare(functions: list[dict[str, Any]]) -> dict[str, object]:
    options = [{"name": "tools", "value": functions}]
    return {
        "do": "request",
        "t": "update-config",
        "d": {"config": [{"service": "llm", "options": options}]},
    }


def ask(text: str, audio: bool = False) -> list[dict[str, object]]:
    """One typed turn, until the bot is idle again."""
    return [
        {"do": "sendText", "text": text, "audioResponse": audio},
        {
            "do": "wait",
            "type": "server-message",
            "where": {"type": "state", "state": "idle"},
            "timeoutMs": 120000,
        },
    ]


def said_between(run: ClientRun, start: float, end: float, kind: str = "bot-output") -> str:
    field = "botTtsText" if kind == "tts" else None
    if field:
        return " ".join(e["data"]["text"] for e in run.of(field) if start < e["t"] <= end)
    return " ".join(m["data"]["text"] for m in run.messages(kind) if start < m["t"] <= end)


def turn_starts(run: ClientRun) -> list[float]:
    return [s["t"] for s in run.steps() if s.get("do") == "sendText"] + [float("inf")]


async def test_an_action_speaks_its_own_result_never_an_earlier_one(tmp_path: Path) -> None:
    steps: list[dict[str, object]] = [
        {"do": "connect"},
        {"do": "registerFunction", "name": "get_indoor_temperature", "result": {"celsius": 21.5}},
        {"do": "registerFunction", "name": "set_porch_light", "result": {"ok": True}},
        {
            "do": "registerFunction",
            "name": "set_garden_light",
            "result": {"ok": False, "reason": "the bulb is broken"},
        },
        declare([INDOOR, light("set_porch_light", "porch"), light("set_garden_light", "garden")]),
        *ask("What's the temperature inside the house?", audio=True),
        *ask("Could you turn the porch light off?", audio=True),
        *ask("Turn the garden light on.", audio=True),
    ]
    async with running_daemon(tmp_path) as daemon:
        run = await run_client(
            {"wsUrl": f"ws://127.0.0.1:{daemon.rtvi.port}/ws", "steps": steps}, timeout=400
        )
    assert run.ok, run.failure()
    calls = run.messages("llm-function-call-in-progress")
    assert [(c["data"]["function_name"], c["data"]["arguments"]) for c in calls] == [
        ("get_indoor_temperature", {}),
        ("set_porch_light", {"on": False}),
        ("set_garden_light", {"on": True}),
    ]
    t = turn_starts(run)
    first, porch, garden = (said_between(run, t[i], t[i + 1], "tts") for i in range(3))
    assert "21.5" in first, first  # the query's answer carries its result
    # the bug: the temperature of the call before, spoken for the porch light
    assert "21.5" not in porch and "temperature" not in porch.lower(), porch
    assert "porch light" in porch and "off" in porch, porch
    assert "couldn't" in garden and "bulb is broken" in garden, garden
    assert "21.5" not in garden


async def test_sums_and_conversions_are_computed_not_taken_for_the_time(tmp_path: Path) -> None:
    steps: list[dict[str, object]] = [
        {"do": "connect"},
        *ask("What is seven times eight?"),
        *ask("Convert 100 degrees Fahrenheit to Celsius."),
        *ask("What's 15 percent of 80?"),
    ]
    async with running_daemon(tmp_path) as daemon:
        run = await run_client(
            {"wsUrl": f"ws://127.0.0.1:{daemon.rtvi.port}/ws", "steps": steps}, timeout=200
        )
    assert run.ok, run.failure()
    t = turn_starts(run)
    answers = [said_between(run, t[i], t[i + 1]) for i in range(3)]
    assert "56" in answers[0] and " AM" not in answers[0] and " PM" not in answers[0], answers
    assert "37.78" in answers[1], answers
    assert "12" in answers[2], answers
    assert not run.messages("llm-function-call-started")  # no tool of the device's either


NEAR_MISSES = {
    "time": ["How many times have I asked you that today?", "What does timeless mean?"],
    "timer": ["Set a time for the meeting with Ana.", "I need more time to think."],
    "device": [
        "Turn off your brain and relax, that's my motto.",
        "Lights out at nine tonight for the kids, any bedtime story ideas?",
        "The kitchen light is my pride and joy, it's so pretty.",  # a remark
    ],
}


@pytest.mark.parametrize("family", sorted(NEAR_MISSES))
async def test_near_misses_fire_no_intent_and_call_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, family: str
) -> None:
    caplog.set_level(logging.INFO, logger="rtvi_edge.pipeline.conversation")
    steps: list[dict[str, object]] = [{"do": "connect"}]
    for text in NEAR_MISSES[family]:
        steps += ask(text)
    # devices set up (over MQTT, not running here): "lights out" must not switch them
    tools = {"devices": ["kitchen light = home/kitchen/set", "lights = home/lights/set"]}
    async with running_daemon(tmp_path, tools=tools) as daemon:
        run = await run_client(
            {"wsUrl": f"ws://127.0.0.1:{daemon.rtvi.port}/ws", "steps": steps}, timeout=300
        )
    assert run.ok, run.failure()
    intents = [r.getMessage() for r in caplog.records if ": intent " in r.getMessage()]
    assert not intents, intents
    assert not run.messages("llm-function-call-started")
    said = said_between(run, 0, float("inf"))
    assert said  # each got an answer
    for wrong in ("Timer set", "can't control the"):  # the timer and device intents' words
        assert wrong not in said, said

"""Tool-calling accuracy: local intents and the LLM path, on a fixed eval set.

Each case: an utterance, the tool it should call (None: must not call one),
and arguments that must be present. The LLM path is measured with intents
off, so it shows what the model does on its own for the same requests.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from rtvi_edge.config import Config, ToolsConfig
from rtvi_edge.engines.hub import build_llm
from rtvi_edge.tools import router
from rtvi_edge.tools.builtin import ToolContext, build_tools
from rtvi_edge.tools.intents import IntentMatcher, intents_for
from rtvi_edge.tools.numbers import parse_duration
from rtvi_edge.tools.registry import Tool, tool_from_schema
from rtvi_edge.tools.timers import TimerService

# A client-side function (as an RTVI client declares it), used by the eval and the tests.
WEATHER_FUNCTION = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather forecast for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
WEATHER = tool_from_schema(WEATHER_FUNCTION)

Case = tuple[str, str | None, dict[str, Any]]
CASES: list[Case] = [
    ("What time is it?", "get_time", {}),
    ("What's the time?", "get_time", {}),
    ("Can you tell me the time please?", "get_time", {}),
    ("What day is it today?", "get_time", {}),
    ("What's the date?", "get_time", {}),
    ("Do you know what time it is right now?", "get_time", {}),
    ("Set a timer for five minutes.", "set_timer", {"seconds": 300}),
    ("Set a 10 second timer.", "set_timer", {"seconds": 10}),
    ("Start a timer for one hour.", "set_timer", {"seconds": 3600}),
    ("Remind me in 20 minutes.", "set_timer", {"seconds": 1200}),
    ("Wake me up in half an hour.", "set_timer", {"seconds": 1800}),
    ("Please set a timer for 90 seconds for the eggs.", "set_timer", {"seconds": 90}),
    ("Cancel the timer.", "cancel_timer", {}),
    ("Stop the timer please.", "cancel_timer", {}),
    ("How much time is left?", "list_timers", {}),
    ("What timers do I have?", "list_timers", {}),
    ("Set the volume to 40 percent.", "set_volume", {"level": 40}),
    ("Volume 70.", "set_volume", {"level": 70}),
    ("Louder.", "change_volume", {"direction": "up"}),
    ("Turn it down a bit.", "change_volume", {"direction": "down"}),
    ("Could you make the volume quieter?", "change_volume", {"direction": "down"}),
    ("Mute.", "mute_speaker", {"muted": True}),
    ("Unmute the speaker.", "mute_speaker", {"muted": False}),
    ("Stop.", "stop", {}),
    ("Never mind.", "stop", {}),
    ("That's enough, thanks.", "stop", {}),
    ("Turn on the kitchen light.", "control_device", {"device": "kitchen light", "state": "on"}),
    ("Switch off the fan.", "control_device", {"device": "fan", "state": "off"}),
    (
        "Please turn the kitchen light off.",
        "control_device",
        {"device": "kitchen light", "state": "off"},
    ),
    ("What's the weather like in Paris?", "get_weather", {"city": "Paris"}),
    ("Will it rain in London today?", "get_weather", {"city": "London"}),
    ("How warm is it in Berlin?", "get_weather", {"city": "Berlin"}),
    ("What is the capital of France?", None, {}),
    ("Tell me a joke.", None, {}),
    ("How are you today?", None, {}),
    ("Who wrote Romeo and Juliet?", None, {}),
    ("What is two plus two?", None, {}),
    ("Explain what a black hole is.", None, {}),
    ("What's your name?", None, {}),
    ("Tell me a story about a timer that could talk.", None, {}),
    ("Why is the sky blue?", None, {}),
    ("What time did the Titanic sink?", None, {}),
    ("I like the weather today.", None, {}),
    ("Thank you!", None, {}),
]

DEVICES = {"kitchen light": "home/kitchen/light/set", "fan": "home/fan/set"}


def _args_ok(expected: dict[str, Any], got: Any) -> bool:
    if not isinstance(got, dict):
        return False
    for key, want in expected.items():
        have = got.get(key)
        if isinstance(want, str):
            if not isinstance(have, str) or have.strip().lower() != want.lower():
                return False
        elif isinstance(want, bool):
            if have is not want:
                return False
        elif not isinstance(have, int | float) or abs(float(have) - want) > 1e-6:
            return False
    return True


def _as_called(args: Any) -> Any:
    """What the handler makes of the arguments (set_timer parses a spoken duration)."""
    if isinstance(args, dict) and "duration" in args and "seconds" not in args:
        return {**args, "seconds": parse_duration(str(args["duration"]))}
    return args


def _tools(tmp: Path) -> list[Tool]:
    async def noop() -> None:
        return None

    async def make() -> list[Tool]:
        timers = TimerService(tmp, __import__("rtvi_edge.events").events.EventBus(), lambda t: None)
        ctx = ToolContext(
            "eval",
            timers,
            lambda: 1.0,
            lambda v: None,
            noop,
            publish=lambda t, p: True,
            devices=DEVICES,
        )
        return [*build_tools(ctx, ToolsConfig()), WEATHER]

    return asyncio.run(make())


def score(results: list[tuple[Case, str | None, Any]]) -> dict[str, Any]:
    tool_ok = sum(1 for (c, tool, _a) in results if tool == c[1])
    both_ok = sum(
        1 for (c, tool, a) in results if tool == c[1] and (c[1] is None or _args_ok(c[2], a))
    )
    should = [r for r in results if r[0][1] is not None]
    should_not = [r for r in results if r[0][1] is None]
    return {
        "cases": len(results),
        "tool_accuracy": round(tool_ok / len(results), 3),
        "tool_and_args_accuracy": round(both_ok / len(results), 3),
        "recall_on_tool_requests": round(
            sum(1 for c, t, _ in should if t == c[1]) / max(1, len(should)), 3
        ),
        "false_calls_on_chat": sum(1 for _c, t, _ in should_not if t is not None),
        "misses": [
            c[0] for c, t, a in results if t != c[1] or (c[1] is not None and not _args_ok(c[2], a))
        ],
    }


def intent_results(tools: list[Tool]) -> list[tuple[Case, str | None, Any]]:
    matcher = IntentMatcher(intents_for(""), list(DEVICES), {t.name for t in tools})
    results = []
    for case in CASES:
        m = matcher.match(case[0])
        tool = m.intent.tool if m else None  # "": answered without a tool (no such device)
        results.append((case, tool or None, m.args if m else None))
    return results


def llm_results(
    tools: list[Tool], config: Config
) -> tuple[list[tuple[Case, str | None, Any]], dict[str, Any]]:
    llm: Any = build_llm(config)
    results = []
    t0 = time.monotonic()
    for case in CASES:
        text = case[0]
        cands = router.candidates(text, tools)
        chosen: str | None = None
        args: Any = None
        if cands:
            pick = llm.choose(
                router.router_messages(text, cands), [t.name for t in cands] + [router.NONE]
            )
            tool = next((t for t in cands if t.name == pick), None)
            if tool is not None:
                chosen = tool.name
                args = (
                    llm.json_arguments(router.argument_messages(text, tool), tool.model_schema())
                    if tool.model_schema().get("properties")
                    else {}
                )
                args = _as_called(args)
        results.append((case, chosen, args))
    info = {
        "model": llm.model_name,
        "secs_per_case": round((time.monotonic() - t0) / len(CASES), 3),
    }
    return results, info


def run(config: Config, tmp: Path) -> dict[str, Any]:
    tools = _tools(tmp)
    by_intent = intent_results(tools)
    by_llm, info = llm_results(tools, config)
    # What the daemon does: an intent when one matches, else the LLM's choice.
    combined = [i if i[1] is not None else m for i, m in zip(by_intent, by_llm, strict=True)]
    return {
        "intents": score(by_intent),
        "llm": {**score(by_llm), **info},
        "combined": score(combined),
    }

"""The blind sets' choices without the daemon or the model: seconds, for development.

Each case goes where the daemon sends it — a local intent (the calculator among them),
else the tool policy over the device's own tools and the set's client functions — and
is judged by the choice alone: the right tool with the right arguments, no call where
none is wanted, an honest "I can't tell" where only a tool could know. The model fills
no argument here (it may in the daemon) and no answer is spoken, so this is a floor for
`handled`, not the daemon's figure: `bench/tools_blind.py` is the measure.

    python -m bench.tools_blind_words --set 4 [-v]
    python -m bench.tools_blind_words --all
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.tools_blind import _args_ok, load_set
from bench.tools_blind_case import BlindCase, is_calculator
from rtvi_edge.config import ToolsConfig
from rtvi_edge.events import EventBus
from rtvi_edge.tools.builtin import ToolContext, build_tools
from rtvi_edge.tools.intents import IntentMatcher, intents_for
from rtvi_edge.tools.policy import ToolPolicy
from rtvi_edge.tools.registry import Tool, tool_from_schema
from rtvi_edge.tools.timers import TimerService


def _tools(functions: list[dict[str, Any]], state: Path) -> list[Tool]:
    async def noop() -> None:
        return None

    async def make() -> list[Tool]:
        timers = TimerService(state, EventBus(), lambda t: None)
        ctx = ToolContext("words", timers, lambda: 1.0, lambda v: None, noop)
        return [*build_tools(ctx, ToolsConfig()), *map(tool_from_schema, functions)]

    return asyncio.run(make())


def judge(case: BlindCase, tool: str | None, args: Any, honest: bool) -> str:
    """'' when the choice is right for the case; else why not."""
    if case.kind == "call":
        if tool != case.tool:
            return f"wrong tool {tool}" if tool else "no tool"
        return "" if _args_ok(case.args, args) else f"wrong arguments {args}"
    if tool and not is_calculator(tool):
        return f"false call {tool} {args}"
    if case.kind == "honest" and not honest:
        return "not honest (the model answers)"
    if case.kind == "math" and tool is None:
        return "the calculator missed it (the model answers)"
    return ""


def run_set(number: int) -> dict[str, Any]:
    module = load_set(number)
    with tempfile.TemporaryDirectory() as d:
        tools = _tools(module.FUNCTIONS, Path(d))
        names = {t.name for t in tools}
        intents = IntentMatcher(intents_for(""), [], names)
        policy = ToolPolicy()
        t0 = time.monotonic()
        misses: list[str] = []
        counts: dict[str, list[int]] = {}
        for case in module.CASES:
            m = intents.match(case.text)
            if m is not None and not m.intent.tool and module.FUNCTIONS:
                m = None  # "no such device" here: the client's functions may know it
            if m is not None:
                tool, args, honest = m.intent.tool or None, m.args, not m.intent.tool
            else:
                decision = policy.decide(case.text, tools, None)
                tool = decision.tool.name if decision.tool else None
                args, honest = decision.args, decision.honest_reply() is not None
            why = judge(case, tool, args, honest)
            right_wrong = counts.setdefault(case.kind, [0, 0])
            right_wrong[bool(why)] += 1
            if why:
                misses.append(f"[{case.kind}] {case.text} -> {why}")
        secs = time.monotonic() - t0
    return {
        "set": number,
        "ms_per_case": round(1000 * secs / max(1, len(module.CASES)), 2),
        "right": {k: f"{v[0]} of {sum(v)}" for k, v in counts.items()},
        "misses": misses,
    }


def main(argv: list[str]) -> int:
    numbers = [1, 2, 3, 4] if "--all" in argv else [int(argv[argv.index("--set") + 1])]
    for n in numbers:
        r = run_set(n)
        if "-v" in argv:
            print("\n".join(r["misses"]))
        print(json.dumps({k: v for k, v in r.items() if k != "misses"}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Tool calling with the default model: does the right tool get called with the right
arguments, does chit-chat call nothing, and does the device ever invent a fact?

Tuned on `tools_cases.DEV`, reported on `tools_cases.HELDOUT` (≥100 utterances).
Each way of choosing is measured the same way, so the table compares them:
- `intents`: the local sentence templates alone;
- `model`: the 135M model picks among lexical candidates under a grammar (before);
- `logprob` / `logprob_mean`: the model scores "none" and each candidate by the summed /
  per-token mean log-probability of its name (tools_logprob);
- `words`: tools/policy.py's word scorer (names, descriptions, keywords, examples);
- `words+model`: the scorer, with the model breaking close calls;
- `daemon`: what the daemon does — an intent if one matches, else the policy.
Metrics: `handled` = tool requests that got the right tool with the right arguments;
`args_ok` = right arguments among right-tool calls; `false_calls` = cases that must call
nothing but called something; `invented` = cases only a tool could answer that would
reach the model with no tool result and no honest reply; `needless_refusals` = chit-chat
answered "I can't tell".
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from bench.tools_cases import CLIENT_FUNCTIONS, DEV, DEVICES, HELDOUT, WEATHER_FUNCTION, Case
from bench.tools_logprob import LogprobChooser
from rtvi_edge.config import Config, ToolsConfig
from rtvi_edge.engines.hub import build_llm
from rtvi_edge.events import EventBus
from rtvi_edge.tools.builtin import ToolContext, build_tools
from rtvi_edge.tools.intents import IntentMatcher, intents_for
from rtvi_edge.tools.numbers import parse_duration
from rtvi_edge.tools.policy import PolicySettings, Strategy, ToolPolicy
from rtvi_edge.tools.registry import Tool, tool_from_schema
from rtvi_edge.tools.timers import TimerService

__all__ = ["WEATHER_FUNCTION", "run"]

# tool (or None), arguments, honest reply given
Outcome = tuple[str | None, Any, bool]


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


def build_eval_tools(tmp: Path) -> list[Tool]:
    async def noop() -> None:
        return None

    async def make() -> list[Tool]:
        timers = TimerService(tmp, EventBus(), lambda t: None)
        ctx = ToolContext(
            "eval",
            timers,
            lambda: 1.0,
            lambda v: None,
            noop,
            publish=lambda t, p: True,
            devices=DEVICES,
        )
        return [*build_tools(ctx, ToolsConfig()), *map(tool_from_schema, CLIENT_FUNCTIONS)]

    return asyncio.run(make())


def score(cases: list[Case], outcomes: list[Outcome]) -> dict[str, Any]:
    requests = [(c, o) for c, o in zip(cases, outcomes, strict=True) if c.tool is not None]
    quiet = [(c, o) for c, o in zip(cases, outcomes, strict=True) if c.tool is None]
    right_tool = [(c, o) for c, o in requests if o[0] == c.tool]
    handled = [(c, o) for c, o in right_tool if _args_ok(c.args, _as_called(o[1]))]
    with_args = [(c, o) for c, o in right_tool if c.args]
    args_ok = [(c, o) for c, o in with_args if _args_ok(c.args, _as_called(o[1]))]
    false_calls = [(c, o) for c, o in quiet if o[0] is not None]
    tool_only = [(c, o) for c, o in zip(cases, outcomes, strict=True) if c.tool or c.honest]
    invented = [(c, o) for c, o in tool_only if o[0] is None and not o[2]]
    refusals = [(c, o) for c, o in quiet if not c.honest and o[0] is None and o[2]]
    return {
        "cases": len(cases),
        "tool_requests": len(requests),
        "must_not_call": len(quiet),
        "handled": round(len(handled) / max(1, len(requests)), 3),
        "right_tool": round(len(right_tool) / max(1, len(requests)), 3),
        "args_ok": round(len(args_ok) / max(1, len(with_args)), 3),
        "false_calls": round(len(false_calls) / max(1, len(quiet)), 3),
        "false_call_count": len(false_calls),
        "invented": len(invented),
        "needless_refusals": len(refusals),
        "misses": [
            f"{c.text} -> {o[0]} {o[1]}"
            for c, o in zip(cases, outcomes, strict=True)
            if (c.tool is not None and (c, o) not in handled)
            or (c.tool is None and o[0] is not None)
            or (c.honest and not o[2])
        ],
    }


def intent_outcomes(cases: list[Case], tools: list[Tool]) -> list[Outcome | None]:
    matcher = IntentMatcher(intents_for(""), list(DEVICES), {t.name for t in tools})
    out: list[Outcome | None] = []
    for case in cases:
        m = matcher.match(case.text)
        # an intent answered without a tool ("no such device") is no tool call, and nor is
        # the calculator's exact answer to a sum (these sets predate it: "chit-chat")
        tool = (m.intent.tool or None) if m and m.intent.tool != "calculate" else None
        out.append((tool, m.args, False) if m else None)
    return out


def policy_outcomes(
    cases: list[Case], tools: list[Tool], llm: Any, strategy: Strategy
) -> list[Outcome]:
    policy = ToolPolicy(PolicySettings(strategy=strategy))
    out: list[Outcome] = []
    for case in cases:
        d = policy.decide(case.text, tools, llm)
        out.append((d.tool.name if d.tool else None, d.args, d.honest_reply() is not None))
    return out


def evaluate(
    cases: list[Case], tools: list[Tool], llm: Any, alternatives: bool = True
) -> dict[str, Any]:
    by_intent = intent_outcomes(cases, tools)
    result: dict[str, Any] = {
        "intents": score(cases, [o or (None, None, False) for o in by_intent])
    }
    t0 = time.monotonic()
    outcomes = policy_outcomes(cases, tools, llm, "words")
    result["words"] = {
        **score(cases, outcomes),
        "secs_per_case": round((time.monotonic() - t0) / len(cases), 4),
    }
    daemon = [i or p for i, p in zip(by_intent, outcomes, strict=True)]
    result["daemon"] = score(cases, daemon)
    if not alternatives:
        return result
    t0 = time.monotonic()
    chooser = LogprobChooser(llm)
    policy = ToolPolicy()
    by_sum: list[Outcome] = []
    by_mean: list[Outcome] = []
    for case in cases:
        for tool, out in zip(chooser.choose(case.text, tools), (by_sum, by_mean), strict=True):
            args = policy.arguments(case.text, tool, llm) if tool else {}
            out.append((tool.name if tool else None, args, False))
    secs = round((time.monotonic() - t0) / len(cases), 4)
    result["logprob"] = {**score(cases, by_sum), "secs_per_case": secs}
    result["logprob_mean"] = {**score(cases, by_mean), "secs_per_case": secs}
    for strategy in ("model", "words+model"):
        t0 = time.monotonic()
        outcomes = policy_outcomes(cases, tools, llm, strategy)  # type: ignore[arg-type]
        result[strategy] = {
            **score(cases, outcomes),
            "secs_per_case": round((time.monotonic() - t0) / len(cases), 4),
        }
    return result


def run(config: Config, tmp: Path, alternatives: bool = True) -> dict[str, Any]:
    """The dev set with the daemon's policy; the held-out set with every alternative."""
    tools = build_eval_tools(tmp)
    llm: Any = build_llm(config)
    return {
        "model": llm.model_name,
        "dev": evaluate(DEV, tools, llm, alternatives=False),
        "heldout": evaluate(HELDOUT, tools, llm, alternatives),
    }


def print_report(result: dict[str, Any]) -> None:
    for split in ("dev", "heldout"):
        r = result[split]
        head = r["intents"]
        print(
            f"\n{split} ({head['cases']} cases: {head['tool_requests']} tool requests, "
            f"{head['must_not_call']} must call nothing), model {result['model']}"
        )
        print(
            f"  {'':<14}{'handled':>9}{'args':>7}{'false':>7}{'invented':>9}{'refused':>8}"
            f"{'s/case':>8}"
        )
        for name in (
            "intents",
            "model",
            "logprob",
            "logprob_mean",
            "words",
            "words+model",
            "daemon",
        ):
            if name not in r:
                continue
            s = r[name]
            print(
                f"  {name:<14}{s['handled']:>9.1%}{s['args_ok']:>7.1%}{s['false_calls']:>7.1%}"
                f"{s['invented']:>9}{s['needless_refusals']:>8}"
                f"{s.get('secs_per_case', float('nan')):>8.2f}"
            )


if __name__ == "__main__":
    import json
    import sys
    import tempfile
    from dataclasses import replace

    cfg = Config()
    if "--threads" in sys.argv:  # 1 on a machine shared with others: llama.cpp spins
        cfg = replace(
            cfg, llm=replace(cfg.llm, threads=int(sys.argv[sys.argv.index("--threads") + 1]))
        )
    with tempfile.TemporaryDirectory() as d:
        res = run(cfg, Path(d), alternatives="--quick" not in sys.argv)
    if "--json" in sys.argv:
        print(json.dumps(res, indent=1))
    if "-v" in sys.argv:
        for split in ("dev", "heldout"):
            for name in ("model", "logprob", "logprob_mean", "words", "words+model", "daemon"):
                if name in res[split]:
                    print(split, name, json.dumps(res[split][name]["misses"], indent=1))
    print_report(res)

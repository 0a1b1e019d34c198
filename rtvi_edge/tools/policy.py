"""The tool policy: which tool (if any) a request calls, with which arguments, and
what to say when only a tool could answer and none did.

Measured on bench/tools_eval.py (docs/tools.md has the table), the choice is
made by the request's words against each tool's name, description, keywords
and examples (`matching`), not by the 135M model: the model chose right about
half the time. Arguments come from the request where they are plain
(`slots`), else from the model under the tool's JSON Schema, and a free-text
value the model wrote must be words the user said. Blocking (the model runs
in the caller's thread); everything else is pure.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from rtvi_edge.engines.base import ConstrainedModel
from rtvi_edge.errors import RtviEdgeError
from rtvi_edge.tools import honesty, slots, speech_acts
from rtvi_edge.tools.honesty import Need
from rtvi_edge.tools.matching import ToolMatcher, ToolScore, is_question
from rtvi_edge.tools.registry import Tool

log = logging.getLogger(__name__)

NONE = "none"
Strategy = Literal["words", "model", "words+model"]


@dataclass(frozen=True)
class Decision:
    tool: Tool | None
    args: dict[str, Any] = field(default_factory=dict)
    need: Need | None = None  # what only a tool can know, when the request is about it
    why: str = ""  # for logs and the bench: how the choice was made

    def honest_reply(self) -> str | None:
        """The fixed words when the request needs a tool and none is called."""
        return honesty.cannot_tell(self.need) if self.tool is None and self.need else None


@dataclass(frozen=True)
class PolicySettings:
    min_score: float = 0.45  # share of the request a tool's words must explain
    min_margin: float = 0.1  # over the runner-up, else it is ambiguous
    strategy: Strategy = "words"


class ToolPolicy:
    def __init__(self, settings: PolicySettings | None = None) -> None:
        self.settings = settings or PolicySettings()

    def decide(self, text: str, tools: list[Tool], llm: ConstrainedModel | None) -> Decision:
        if speech_acts.not_a_request(text):  # a remark, a how-to, a question of taste
            return Decision(None, why="not a request")
        need = honesty.needs_tool(text)
        if not tools or honesty.NOT_A_REQUEST.search(text.lower()):
            return Decision(None, need=need, why="no tool fits")
        tool, why = self._choose(text, tools, llm)
        if tool is None:
            return Decision(None, need=need, why=why)
        return Decision(tool, self.arguments(text, tool, llm), need, why)

    # -- choosing ------------------------------------------------------------
    def _choose(
        self, text: str, tools: list[Tool], llm: ConstrainedModel | None
    ) -> tuple[Tool | None, str]:
        s = self.settings
        if s.strategy == "model":
            return self._model_choice(text, [t for t in tools if _shares_words(text, t)], llm)
        ranked = _fitted(text, _scores(text, tools), is_question(text))
        if not ranked:
            return None, "no tool shares a word with the request"
        best = ranked[0]
        runner_up = ranked[1].total if len(ranked) > 1 else 0.0
        if best.total >= s.min_score and best.total - runner_up >= s.min_margin:
            return best.tool, f"words {_fmt(ranked)}"
        if s.strategy == "words+model" and best.total >= s.min_score / 2:
            close = [r.tool for r in ranked if r.total >= best.total - s.min_margin][:3]
            return self._model_choice(text, close, llm)
        return None, f"no clear tool {_fmt(ranked)}"

    def _model_choice(
        self, text: str, tools: list[Tool], llm: ConstrainedModel | None
    ) -> tuple[Tool | None, str]:
        if not tools or llm is None:
            return None, "no candidates for the model"
        pick = llm.choose(choice_messages(text, tools), [t.name for t in tools] + [NONE])
        chosen = next((t for t in tools if t.name == pick), None)
        return chosen, f"model chose {pick} of {[t.name for t in tools]}"

    # -- arguments -------------------------------------------------------------
    def arguments(self, text: str, tool: Tool, llm: ConstrainedModel | None) -> dict[str, Any]:
        schema = tool.model_schema()
        props: dict[str, Any] = schema.get("properties") or {}
        args: dict[str, Any] = {}
        for name, spec in props.items():
            value = slots.local_value(name, spec if isinstance(spec, dict) else {}, text)
            if value is not None:
                args[name] = value
        own_words = frozenset(w.lower() for w in re.findall(r"\w+", tool.description))
        for name, spec in props.items():
            free = isinstance(spec, dict) and spec.get("type", "string") == "string"
            if name not in args and free and not spec.get("enum") and name != "duration":
                value = slots.free_text(text, own_words)
                if value is not None:
                    args[name] = value
        missing = [n for n in schema.get("required", []) if n not in args]
        if missing and llm is not None:
            # The model fills what the words did not give; a string must be words said.
            model_args = _model_arguments(text, tool, llm)
            for name in missing:
                value = model_args.get(name)
                spec = props.get(name, {})
                if spec.get("type", "string") == "string" and not spec.get("enum"):
                    value = value if slots.said(value, text) else None
                if value is not None:
                    args[name] = value
        return args


def fixed_reply(tool: Tool, result: dict[str, Any]) -> str | None:
    """A tool's own answer from its result, for the tools that have one: exact, where the
    135M model rephrasing "4:05 AM" sometimes is not. None: the model answers."""
    if tool.reply is None:
        return None
    try:
        return tool.reply.format(**result)
    except (KeyError, IndexError, ValueError):
        return None


def _model_arguments(text: str, tool: Tool, llm: ConstrainedModel) -> dict[str, Any]:
    try:
        got = llm.json_arguments(argument_messages(text, tool), tool.model_schema())
    except RtviEdgeError as exc:
        log.info("the model could not fill %s's arguments: %s", tool.name, exc)
        return {}
    return got if isinstance(got, dict) else {}


def _fitted(text: str, ranked: list[ToolScore], question: bool = False) -> list[ToolScore]:
    """Scores adjusted by the arguments the request states: a tool whose required
    enum, number or duration is not said cannot be meant ("turn on the porch light"
    with no porch light); one whose every required argument is said gains, unless the
    request is a question ("What's playing?" sets nothing to "play")."""
    out = []
    for r in ranked:
        schema = r.tool.model_schema()
        props: dict[str, Any] = schema.get("properties") or {}
        required = [n for n in schema.get("required", []) if isinstance(props.get(n), dict)]
        bonus, possible = 0.0, True
        for name in required:
            spec = props[name]
            found = slots.local_value(name, spec, text) is not None or (
                _free(spec) and slots.whole_text(text) is not None  # "Note down …"
            )
            if found:
                bonus += 0.0 if question else 0.15 / len(required)
            elif slots.must_be_said(name, spec):
                possible = False
            else:
                bonus -= 0.05
        if possible:
            out.append(ToolScore(r.tool, round(r.score + bonus, 4), r.example))
    out.sort(key=lambda s: s.total, reverse=True)
    return out


def _scores(text: str, tools: list[Tool]) -> list[ToolScore]:
    """The matcher's scores; a tool that takes free text is scored without the words that
    would be that text ("Tell everyone on the intercom *we leave in five minutes*", "Put
    *batteries* on the list"): a message's words say nothing against its carrier."""
    matcher = ToolMatcher(tools)
    ranked = matcher.scores(text)
    value = slots.whole_text(text) or slots.free_text(text)
    at = text.lower().rfind(value.lower()) if value else -1
    if value is None or at < 0:
        return ranked
    rest = f"{text[:at]} {text[at + len(value) :]}"
    carriers = {t.name for t in tools if any(_free(p) for p in _properties(t))}
    better = {r.tool.name: r for r in matcher.scores(rest) if r.tool.name in carriers}
    merged = {r.tool.name: r for r in ranked if r.tool.name not in better}
    for name, r in better.items():
        old = next((o for o in ranked if o.tool.name == name), None)
        merged[name] = r if old is None or r.total > old.total else old
    return sorted(merged.values(), key=lambda r: r.total, reverse=True)


def _properties(tool: Tool) -> list[dict[str, Any]]:
    """Its required arguments' schemas (an optional label carries no message)."""
    schema = tool.model_schema()
    props = schema.get("properties") or {}
    return [
        p
        for n, p in props.items()
        if isinstance(p, dict) and n != "duration" and n in schema.get("required", [])
    ]


def _free(spec: dict[str, Any]) -> bool:
    return spec.get("type", "string") == "string" and not spec.get("enum")


def _shares_words(text: str, tool: Tool) -> bool:
    return bool(ToolMatcher([tool]).scores(text))


def _fmt(ranked: list[ToolScore]) -> str:
    return ", ".join(f"{r.tool.name}={r.total:.2f}" for r in ranked[:3])


def choice_messages(text: str, tools: list[Tool]) -> list[dict[str, Any]]:
    lines = "\n".join(f"- {t.name}: {t.description}" for t in tools)
    prompt = (
        "Decide whether a function should be called for the user's request.\n"
        f"{lines}\n- {NONE}: no function fits; just answer in words.\n"
        "Reply with the function name only."
    )
    return [{"role": "system", "content": prompt}, {"role": "user", "content": text}]


def argument_messages(text: str, tool: Tool) -> list[dict[str, Any]]:
    prompt = (
        f"Write the JSON arguments for {tool.name}: {tool.description}.\n"
        f"Schema: {json.dumps(tool.model_schema())}\n"
        "Take the values from the user's request."
    )
    return [{"role": "system", "content": prompt}, {"role": "user", "content": text}]

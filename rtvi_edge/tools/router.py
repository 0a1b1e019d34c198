"""Choosing a tool for an utterance with a small model.

Small models pick badly from a long list, so the list is cut first: a tool is
a candidate only if the utterance shares a word stem with its name,
description or keywords. The model then chooses among the candidates and
"none" under a grammar, and fills the arguments under the tool's JSON Schema.
"""

from __future__ import annotations

import json
import re
from typing import Any

from rtvi_edge.tools.registry import Tool

NONE = "none"
_STOPWORDS = frozenset(
    [
        "the",
        "a",
        "an",
        "and",
        "or",
        "of",
        "to",
        "for",
        "in",
        "on",
        "at",
        "is",
        "are",
        "be",
        "it",
        "this",
        "that",
        "with",
        "from",
        "by",
        "as",
        "what",
        "which",
        "who",
        "how",
        "when",
        "where",
        "do",
        "does",
        "can",
        "could",
        "would",
        "will",
        "you",
        "your",
        "me",
        "my",
        "i",
        "we",
        "our",
        "please",
        "tell",
        "give",
        "get",
        "set",
        "make",
        "current",
        "some",
        "any",
        "about",
        "into",
        "than",
        "then",
        "there",
        "their",
        "them",
        "they",
    ]
)


def _stems(text: str) -> set[str]:
    words = re.findall(r"[a-z]+", text.lower().replace("_", " "))
    return {w[:5] for w in words if len(w) >= 3 and w not in _STOPWORDS}


def candidates(text: str, tools: list[Tool]) -> list[Tool]:
    said = _stems(text)
    return [t for t in tools if said & _stems(" ".join([t.name, t.description, *t.keywords]))]


def router_messages(text: str, tools: list[Tool]) -> list[dict[str, Any]]:
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


def call_message(tool: Tool, args: dict[str, Any], call_id: str) -> dict[str, Any]:
    """The assistant's tool call as plain content: small models' chat templates (and
    llama-cpp-python applying them) reject an assistant message without content."""
    call = {"tool_call_id": call_id, "name": tool.name, "arguments": args}
    return {"role": "assistant", "content": json.dumps({"function_call": call})}


def result_message(tool: Tool, result: Any, call_id: str) -> dict[str, Any]:
    return {
        "role": "tool",
        "content": json.dumps({"tool_call_id": call_id, "name": tool.name, "result": result}),
    }


def spoken_summary(tool_messages: list[dict[str, Any]]) -> str:
    """The `summary` the last tool worded for the user ("" if none): said as it is."""
    if not tool_messages:
        return ""
    try:
        result = json.loads(tool_messages[-1]["content"]).get("result")
    except (ValueError, AttributeError, KeyError, TypeError):
        return ""
    summary = result.get("summary") if isinstance(result, dict) else None
    return summary.strip() if isinstance(summary, str) else ""


def looks_like_json(text: str) -> bool:
    """An answer that starts as JSON (the model echoing a tool call) is not spoken."""
    return text.lstrip()[:1] in ("{", "[")

"""Tools the assistant can call: JSON Schema (OpenAI function format), a handler,
a timeout. A failing or slow tool gives the model an error result, never a crash."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], Awaitable[Any]]


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    parameters: dict[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})
    handler: Handler | None = None  # None: the client runs it (RTVI function call)
    timeout: float = 5.0
    keywords: tuple[str, ...] = ()  # extra words that make this tool a candidate
    examples: tuple[str, ...] = ()  # requests that should call it ("Is the garage door open?")
    # the answer, filled from the result ("It is {time}."), instead of the model's words;
    # None: the model answers from the result
    reply: str | None = None
    # what a small model is asked to fill, when simpler than `parameters` (e.g. a duration
    # as the words said, parsed by the handler, instead of arithmetic into seconds)
    llm_parameters: dict[str, Any] | None = None
    # what the request must be about for this tool to be meant (tools/senses.py), over the
    # lower-cased request: "times" shares a stem with "time" but is no clock question
    sense: re.Pattern[str] | None = None
    # False: only its local intent calls it, never the word scorer (the calculator)
    policy: bool = True

    def model_schema(self) -> dict[str, Any]:
        return self.llm_parameters or self.parameters

    def schema(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }


def tool_from_schema(spec: Any) -> Tool:
    """A client-declared function (OpenAI format, or its inner `function` object)."""
    if not isinstance(spec, dict):
        raise ValueError("a tool must be an object")
    fn = spec.get("function", spec)
    if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
        raise ValueError("a tool needs a string `name`")
    params = fn.get("parameters") or {"type": "object", "properties": {}}
    if not isinstance(params, dict) or params.get("type", "object") != "object":
        raise ValueError(f"tool {fn['name']}: `parameters` must be a JSON Schema object")
    return Tool(
        name=fn["name"],
        description=str(fn.get("description", "")),
        parameters=params,
        keywords=_strings(fn, "keywords"),
        examples=_strings(fn, "examples"),
    )


def _strings(fn: dict[str, Any], key: str) -> tuple[str, ...]:
    """Optional `keywords` / `examples` of a client function: a list of strings."""
    value = fn.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"tool {fn['name']}: `{key}` must be a list of strings")
    return tuple(v for v in value if v.strip())


def check_arguments(tool: Tool, args: Any) -> str | None:
    """A small JSON Schema check (required keys, primitive types); None when fine."""
    if not isinstance(args, dict):
        return "arguments must be an object"
    props = tool.parameters.get("properties", {})
    for key in tool.parameters.get("required", []):
        if key not in args:
            return f"missing required argument {key!r}"
    kinds: dict[str, type | tuple[type, ...]] = {
        "string": str,
        "integer": int,
        "number": (int, float),
        "boolean": bool,
        "array": list,
        "object": dict,
    }
    for key, value in args.items():
        want = props.get(key, {}).get("type")
        if want in kinds and (
            not isinstance(value, kinds[want])
            or (want in ("integer", "number") and isinstance(value, bool))
        ):
            return f"argument {key!r} must be of type {want}"
        enum = props.get(key, {}).get("enum")
        if enum and value not in enum:
            return f"argument {key!r} must be one of {enum}"
    return None


class ToolRegistry:
    def __init__(self) -> None:
        self._tools: dict[str, Tool] = {}

    def add(self, tool: Tool) -> None:
        self._tools[tool.name] = tool

    def remove(self, name: str) -> None:
        self._tools.pop(name, None)

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def tools(self) -> list[Tool]:
        return list(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)

    async def call(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        """Runs a local tool; always returns a result object for the model."""
        tool = self._tools.get(name)
        if tool is None or tool.handler is None:
            return {"error": f"no such tool: {name}"}
        problem = check_arguments(tool, args)
        if problem:
            return {"error": f"{name}: {problem}"}
        try:
            result = await asyncio.wait_for(tool.handler(args), tool.timeout)
        except TimeoutError:
            log.warning("tool %s timed out after %.1f s", name, tool.timeout)
            return {"error": f"{name} took longer than {tool.timeout:g} s"}
        except Exception as exc:
            log.warning("tool %s failed: %s", name, exc)
            return {"error": f"{name} failed: {exc}"}
        return result if isinstance(result, dict) else {"result": result}

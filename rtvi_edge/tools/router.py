"""A tool call and its result as context messages a small model's template accepts.

(Which tool to call is tools/policy.py's job.)
"""

from __future__ import annotations

import json
from typing import Any

from rtvi_edge.tools.registry import Tool


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


def looks_like_json(text: str) -> bool:
    """An answer that starts as JSON (the model echoing a tool call) is not spoken."""
    return text.lstrip()[:1] in ("{", "[")

"""Clean text at every boundary: JSON and strings that came from outside.

One place decides what untrusted JSON may look like (RTVI, MQTT, the web page,
tool arguments), so that every parser failure becomes one clear `InputError`
instead of a RecursionError, a ValueError from a 5,000-digit integer, or a
lone UTF-16 surrogate that only fails later, when the text is encoded again.
"""

from __future__ import annotations

import json
import re
from typing import Any

from rtvi_edge.errors import RtviEdgeError

MAX_DEPTH = 32  # nesting of objects and arrays; real messages use fewer than 8
MAX_INT_DIGITS = 64  # Python's own limit (4,300) raises ValueError, not JSONDecodeError

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")
_LONG_INT = re.compile(r"(?<![\w.])-?\d{" + str(MAX_INT_DIGITS + 1) + ",}")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


class InputError(RtviEdgeError):
    """Text from outside that cannot be used; the message says why."""


def find_surrogate(text: str) -> int:
    """Index of the first lone surrogate in `text`, or -1."""
    if text.isascii():
        return -1
    found = _SURROGATE.search(text)
    return found.start() if found is not None else -1


def check_text(text: str, what: str = "text") -> str:
    """`text` unchanged, or InputError when it holds a lone surrogate."""
    pos = find_surrogate(text)
    if pos >= 0:
        raise InputError(
            f"{what} holds a lone UTF-16 surrogate ({text[pos]!a}) at character {pos}: "
            "send valid Unicode"
        )
    return text


def clean_text(text: str) -> str:
    """`text` with any lone surrogate replaced by U+FFFD (for text on its way out)."""
    if find_surrogate(text) < 0:
        return text
    return _SURROGATE.sub("\ufffd", text)


def _depth(without_strings: str) -> int:
    deepest = depth = 0
    for bracket in _BRACKETS.findall(without_strings):
        if bracket in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def loads(text: str | bytes, what: str = "message", max_depth: int = MAX_DEPTH) -> Any:
    """Untrusted JSON → a value; InputError names the first problem."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError(f"{what} is not UTF-8 text") from None
    without_strings = _STRING.sub('""', text)
    if _depth(without_strings) > max_depth:
        raise InputError(f"{what} is nested deeper than {max_depth} levels")
    if _LONG_INT.search(without_strings):
        raise InputError(f"{what} holds a number longer than {MAX_INT_DIGITS} digits")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{what} is not valid JSON: {exc.msg} at char {exc.pos}") from None
    except (ValueError, RecursionError) as exc:  # the checks above should make these rare
        raise InputError(f"{what} cannot be read as JSON: {exc}") from None
    _check_strings(value, what)
    return value


def _check_strings(value: Any, what: str) -> None:
    """Every key and string in a parsed value is valid Unicode (no lone surrogate)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            check_text(item, f"a string in the {what}")
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def dumps_clean(obj: Any) -> str:
    """JSON for the wire that always encodes as UTF-8 (a stray surrogate becomes U+FFFD)."""
    return clean_text(json.dumps(obj, separators=(",", ":"), ensure_ascii=False, default=str))

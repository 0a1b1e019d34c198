"""What the device says after a tool ran: this turn's result, never an earlier one.

The 135M model, handed a context full of earlier tool results, happily answers
"turn the porch light off" → {"ok": true} with the temperature from the call before.
So the answer to a tool call is decided here:
- a failure ({"error": …}, {"ok": false, "reason": …}) → "Sorry, I couldn't do that: …";
- an action that succeeded (a function that changes something, or a result that only
  says "ok") → a fixed confirmation built from the call: "Done: the porch light is now
  off." — the model has nothing to add and cannot be trusted not to add something;
- a query → the model words the answer from this result alone (`answer_messages`), and
  its words must carry the result (`grounded`), else a fixed sentence of the result's
  values (`summary`) is said instead.
Sans-I/O: results and words in, words out.
"""

from __future__ import annotations

import json
import re
from typing import Any

from rtvi_edge.tools.registry import Tool

_STATUS_KEYS = frozenset(["ok", "success", "status", "result", "done", "message", "code"])
_STATUS_VALUES = frozenset(["ok", "done", "success", "succeeded", "true", "yes", "completed"])
_ACTION_VERBS = frozenset(
    [
        "set",
        "add",
        "change",
        "update",
        "create",
        "delete",
        "remove",
        "toggle",
        "turn",
        "make",
        "run",
        "send",
        "put",
        "cancel",
        "start",
        "stop",
        "play",
        "pause",
        "mute",
        "unmute",
        "control",
        "open",
        "close",
        "lock",
        "unlock",
        "switch",
        "enable",
        "disable",
        "arm",
        "disarm",
        "activate",
        "deactivate",
        "trigger",
        "adjust",
        "move",
        "dim",
        "brighten",
        "raise",
        "lower",
        "increase",
        "decrease",
        "reset",
        "restart",
        "resume",
        "skip",
        "book",
        "order",
        "buy",
        "schedule",
        "water",
    ]
)
_READ_VERBS = frozenset(
    ["get", "read", "check", "query", "fetch", "list", "show", "find", "lookup", "is", "tell"]
)
_PAST = {
    "set": "set",
    "run": "ran",
    "send": "sent",
    "put": "put",
    "stop": "stopped",
    "make": "made",
    "dim": "dimmed",
    "skip": "skipped",
    "buy": "bought",
    "cancel": "cancelled",
    "control": "controlled",
}
_OPPOSITE = {
    "on": "off",
    "open": "closed",
    "locked": "unlocked",
    "enabled": "disabled",
    "active": "inactive",
    "armed": "disarmed",
    "muted": "unmuted",
    "running": "stopped",
}
_FAILED_WORDS = re.compile(
    r"\b(?:sorry|couldn't|could not|can't|cannot|failed|unable|not able|error|didn't|did not)\b"
)


def failure(result: Any) -> str | None:
    """The words for a failed call, or None when it succeeded."""
    if not isinstance(result, dict):
        return None
    status = str(result.get("status", "")).lower()
    bad = (
        "error" in result
        or result.get("ok") is False
        or result.get("success") is False
        or status in ("error", "failed", "failure")
    )
    if not bad:
        return None
    if result.get("timeout"):
        return "Sorry, the app did not answer in time, so I can't tell."
    reason = next(
        (
            str(result[k]).strip().rstrip(".")
            for k in ("error", "reason", "message", "detail")
            if isinstance(result.get(k), str | int | float) and str(result[k]).strip()
        ),
        "",
    )
    return f"Sorry, I couldn't do that: {reason}." if reason else "Sorry, I couldn't do that."


def is_action(tool: Tool) -> bool:
    """A function that changes something (its name starts with a verb that does)."""
    first = _name_words(tool.name)[:1]
    return bool(first) and first[0] in _ACTION_VERBS


def is_query(tool: Tool) -> bool:
    """A function that reads something (get_…, check_…): its result is the answer."""
    first = _name_words(tool.name)[:1]
    return bool(first) and first[0] in _READ_VERBS


def informative(result: Any) -> list[tuple[str, Any]]:
    """The result's facts as (key, value) leaves, without the bare success flags."""
    out: list[tuple[str, Any]] = []

    def walk(key: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(str(k), v)
        elif isinstance(value, list):
            for v in value[:8]:
                walk(key, v)
        elif key in _STATUS_KEYS and (
            isinstance(value, bool) or str(value).lower() in _STATUS_VALUES
        ):
            return
        elif value is not None and str(value).strip():
            out.append((key, value))

    walk("result", result)
    return out


# Every confirmation of an action opens with it; the model never may (pipeline/echo.py).
CONFIRMED = "Done:"


def confirmation(tool: Tool, args: dict[str, Any], result: Any) -> str:
    """A fixed "done" sentence for an action that succeeded, from the call itself."""
    words = _name_words(tool.name)
    verb = words[0] if words and words[0] in _ACTION_VERBS else ""
    thing = " ".join(words[1:] if verb else words) or tool.name
    values = [_value(k, v) for k, v in args.items()]
    extra = [_fact(k, v) for k, v in informative(result) if not _said(v, args)]
    tail = f" ({', '.join(extra)})" if extra else ""
    bools = [(k, v) for k, v in args.items() if isinstance(v, bool)]
    if verb in ("set", "turn", "switch", "change", "update", "adjust", "put") and values:
        if len(args) == 1 and bools:
            return f"{CONFIRMED} the {thing} is now {_value(*bools[0])}{tail}."
        return f"{CONFIRMED} {thing} set to {', '.join(values)}{tail}."
    if verb:
        past = _PAST.get(verb) or (verb + "d" if verb.endswith("e") else verb + "ed")
        said = f": {', '.join(values)}" if values else ""
        return f"{CONFIRMED} {past} the {thing}{said}{tail}."
    said = f": {', '.join(values)}" if values else ""
    return f"{CONFIRMED} {thing}{said}{tail}."


def summary(tool: Tool, result: Any) -> str:
    """The result's facts in a fixed sentence, when the model's words did not carry them."""
    words = _name_words(tool.name)
    if words and words[0] in ("get", "read", "check", "query", "fetch", "list", "show"):
        words = words[1:]
    thing = " ".join(words) or tool.name
    facts = informative(result)
    if not facts:
        return f"The {thing} gave no details."
    parts = [_fact(k, v) for k, v in facts[:6]]
    return f"{thing[:1].upper()}{thing[1:]}: {', '.join(parts)}."


def answer_messages(
    system_prompt: str, user_text: str, tool: Tool, args: dict[str, Any], result: Any
) -> list[dict[str, Any]]:
    """A prompt with this turn's result alone: no earlier result to stand in for it."""
    facts = json.dumps(result, ensure_ascii=False)
    lead = f"{system_prompt.strip()}\n\n" if system_prompt.strip() else ""
    prompt = (
        f"{lead}The user asked: {user_text!r}. The app's function {tool.name} "
        f"answered: {facts}. Answer the user in one short sentence, using only this "
        "answer and its exact values. Do not mention anything else."
    )
    return [{"role": "system", "content": prompt}, {"role": "user", "content": user_text}]


def grounded(answer: str, result: Any, user_text: str) -> bool:
    """The model's words carry this result: one of its values, no number from elsewhere,
    no claim of failure, no JSON."""
    text = answer.strip()
    if not text or text[:1] in "{[" or _FAILED_WORDS.search(text.lower()):
        return False
    facts = [v for _, v in informative(result)]
    if not facts or not any(_mentions(text, v) for v in facts):
        return False
    allowed = {float(v) for v in facts if _is_number(v)} | set(_numbers(user_text))
    allowed |= {float(n) for v in facts if isinstance(v, str) for n in _numbers(v)}
    return all(any(abs(n - a) < 0.051 for a in allowed) for n in _numbers(text))


# -- words -----------------------------------------------------------------------------
def _name_words(name: str) -> list[str]:
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name)
    return [w for w in re.split(r"[\W_]+", spaced.lower()) if w]


def _human(key: str) -> str:
    return " ".join(_name_words(key))


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _num(v: float) -> str:
    return str(round(v)) if abs(v - round(v)) < 1e-9 else f"{v:.2f}".rstrip("0").rstrip(".")


def _value(key: str, v: Any) -> str:
    if isinstance(v, bool):
        word = _human(key)
        if v:
            return word
        return _OPPOSITE.get(word, f"not {word}")
    if _is_number(v):
        unit = _human(key)
        return f"{_num(float(v))} {unit}" if unit.endswith("s") and unit != "status" else _num(v)
    return str(v)


def _fact(key: str, v: Any) -> str:
    if isinstance(v, bool):
        return _value(key, v)
    text = _num(float(v)) if _is_number(v) else str(v)
    return f"{_human(key)} {text}" if key != "result" else text


def _said(v: Any, args: dict[str, Any]) -> bool:
    return any(str(v).lower() == str(a).lower() for a in args.values())


def _numbers(text: str) -> list[float]:
    return [float(n) for n in re.findall(r"(?<![\w.])-?\d+(?:\.\d+)?", text.replace(",", ""))]


def _mentions(text: str, value: Any) -> bool:
    if _is_number(value):
        return any(abs(n - float(value)) < 0.051 for n in _numbers(text))
    if isinstance(value, bool):
        return False
    v = str(value).strip().lower()
    return bool(v) and re.search(rf"(?<!\w){re.escape(v)}(?!\w)", text.lower()) is not None

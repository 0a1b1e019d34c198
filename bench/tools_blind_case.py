"""The shape of a blind evaluation case (bench/tools_blind_set*.py) and how one is judged
from what the device did: which tools ran with which arguments, which local intents
fired, and the words of its answer."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["call", "none", "honest", "math", "nearmiss"]

# Words of an honest "I can't tell / can't do that" (no invented state).
HONEST = (
    "can't",
    "cannot",
    "can not",
    "no way",
    "not set up",
    "don't know",
    "unable",
    "not able",
    "don't have",
    "no device",
    "not connected",
    "no access",
)
# Words that say an action did not happen.
FAILED = (
    "couldn't",
    "could not",
    "can't",
    "cannot",
    "failed",
    "didn't",
    "did not",
    "unable",
    "not able",
    "wasn't able",
    "sorry",
    "error",
    "problem",
)
# A calculator or converter the device may grow answers arithmetic: not a misfire.
CALCULATOR_WORDS = ("calc", "convert", "math", "arith")


@dataclass(frozen=True)
class BlindCase:
    text: str
    kind: Kind
    tool: str | None = None
    args: dict[str, Any] = field(default_factory=dict)
    says: tuple[str, ...] = ()  # one of these must be in the answer (whole words)
    result: Any = None  # what the client answers instead of the function's usual result
    number: float | None = None  # the answer must hold this number
    tolerance: float = 1e-6
    family: str = ""  # near misses: the intent family it must not trigger


def fn(
    name: str,
    description: str,
    properties: dict[str, Any] | None = None,
    required: list[str] | None = None,
    examples: list[str] | None = None,
    keywords: list[str] | None = None,
) -> dict[str, Any]:
    """A client function as the official client declares it (OpenAI function schema,
    with the device's optional `examples` and `keywords`)."""
    params: dict[str, Any] = {"type": "object", "properties": properties or {}}
    if required:
        params["required"] = required
    function: dict[str, Any] = {"name": name, "description": description, "parameters": params}
    if examples:
        function["examples"] = examples
    if keywords:
        function["keywords"] = keywords
    return {"type": "function", "function": function}


def call(
    text: str,
    tool: str,
    args: dict[str, Any],
    says: list[str] | None = None,
    result: Any = None,
) -> BlindCase:
    return BlindCase(text, "call", tool, args, tuple(says or ()), result)


def none(text: str) -> BlindCase:
    return BlindCase(text, "none")


def honest(text: str) -> BlindCase:
    return BlindCase(text, "honest")


def math(text: str, number: float, tolerance: float = 1e-6) -> BlindCase:
    return BlindCase(text, "math", number=number, tolerance=tolerance)


def nearmiss(text: str, family: str, number: float | None = None) -> BlindCase:
    return BlindCase(text, "nearmiss", number=number, family=family)


@dataclass
class Observed:
    """What the device did for one case."""

    calls: list[tuple[str, Any]] = field(default_factory=list)  # (tool, arguments)
    intents: list[str] = field(default_factory=list)
    answer: str = ""
    result: Any = None  # what this turn's tool returned


def _norm(text: str) -> str:
    return text.replace("\u2019", "'").lower()


def has_word(text: str, phrase: str) -> bool:
    return re.search(rf"(?<![\w.]){re.escape(_norm(phrase))}(?![\w]|\.\d)", _norm(text)) is not None


def has_any(text: str, words: tuple[str, ...]) -> bool:
    t = _norm(text)
    return any(w in t for w in words)


_NUMBER = re.compile(r"(?:(minus|negative)\s+)?(-?\d[\d,]*(?:\.\d+)?)")


def numbers_in(text: str) -> list[float]:
    out: list[float] = []
    for m in _NUMBER.finditer(_norm(text)):
        digits = m.group(2).replace(",", "")
        try:
            value = float(digits)
        except ValueError:
            continue
        out.append(-value if m.group(1) else value)
    return out


def number_right(case: BlindCase, answer: str) -> bool:
    assert case.number is not None
    return any(abs(v - case.number) <= case.tolerance for v in numbers_in(answer))


def is_calculator(name: str) -> bool:
    return any(w in name.lower() for w in CALCULATOR_WORDS)


def failed(result: Any) -> bool:
    return isinstance(result, dict) and ("error" in result or result.get("ok") is False)

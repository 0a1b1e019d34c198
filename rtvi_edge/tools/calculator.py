"""The local calculator: a whole request that is a sum or a unit conversion, answered
exactly ("What is seven times eight?" → "7 times 8 is 56."), as a local intent.

The request must be nothing but the question: a question frame ("what is", "how much
is", "calculate"...), then an expression that `arithmetic` or `units` understands
entirely. Anything else ("How many times have I asked you?", "Is three times five more
than twelve?") is not answered here. Sans-I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from rtvi_edge.tools import arithmetic, units
from rtvi_edge.tools.registry import Tool

_FRAME = re.compile(
    r"^(?:(?:hey|ok|okay|so|um|please|quick question)\s+)*"
    r"(?:(?:can|could|would|will) you (?:please )?(?:tell me |work out |calculate |compute )?|"
    r"do you know |tell me |i want to know |i'd like to know )?"
    r"(?:what(?:'s| is| are| does| do)|whats|how much (?:is|are|does|do)|how much|"
    r"calculate|compute|work out|figure out|solve|convert|change)?\s*"
)
_TAIL = re.compile(
    r"\s*(?:equal|equals|make|come to|give you|give me|exactly|please|for me|"
    r"in total|altogether|then)?\s*$"
)
# Sums said with a verb, rewritten as operators ("add 17 and 26" → "17 plus 26").
_VERB_FORMS = (
    (re.compile(r"^add (.+?) (?:and|to|plus) (.+)$"), r"\1 plus \2"),
    (re.compile(r"^subtract (.+?) from (.+)$"), r"\2 minus \1"),
    (re.compile(r"^take (.+?) (?:from|away from) (.+)$"), r"\2 minus \1"),
    (re.compile(r"^multiply (.+?) (?:by|and|with|times) (.+)$"), r"\1 times \2"),
    (re.compile(r"^divide (.+?) by (.+)$"), r"\1 divided by \2"),
    (re.compile(r"^divide (.+?) into (.+)$"), r"\2 divided by \1"),
    (re.compile(r"^how many times (?:does|do|will|can) (.+?) go into (.+)$"), r"\2 divided by \1"),
    (re.compile(r"^(?:the )?sum of (.+?) and (.+)$"), r"\1 plus \2"),
    (re.compile(r"^(?:the )?product of (.+?) and (.+)$"), r"\1 times \2"),
    (re.compile(r"^(?:the )?difference between (.+?) and (.+)$"), r"\1 minus \2"),
    (re.compile(r"^(?:the )?square of (.+)$"), r"\1 squared"),
)
_PRICE = re.compile(r"^(.+? percent (?:of|off)) (?:an? |the |my )?([\d.]+) [a-z]+$")
NAME = "calculate"


@dataclass(frozen=True)
class Answer:
    value: float | None  # None: it cannot be computed (a division by zero)
    text: str  # what to say


def _normalize(text: str) -> str:
    text = text.lower().replace("’", "'").strip()
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)  # 1,000
    text = re.sub(r"[?!,;:]", " ", text)
    text = re.sub(r"(?<!\d)\.|\.(?!\d)", " ", text)
    text = re.sub(r"\$\s*(\d)", r"\1", text)
    text = re.sub(r"\b(dollars?|euros?|pounds sterling|bucks)\b", "", text)
    text = re.sub(r"\bthe (?=(?:sum|product|difference|square)\b)", "", text)
    return " ".join(text.split())


def solve(text: str) -> Answer | None:
    """The answer to a request that is a sum or a conversion; None for anything else."""
    norm = _normalize(text)
    body = _FRAME.sub("", norm, count=1)
    body = _TAIL.sub("", body).strip()
    if not body:
        return None
    if conversion := units.parse(body, _amount):
        return _converted(conversion)
    for pattern, repl in _VERB_FORMS:
        if pattern.match(body):
            body = pattern.sub(repl, body)
            break
    try:
        result = _evaluate(body)
    except arithmetic.NotArithmetic:
        return None
    except ZeroDivisionError:
        return Answer(None, "That can't be computed: it divides by zero.")
    return Answer(result.value, f"{_capital(result.said)} is {arithmetic.fmt(result.value)}.")


def _evaluate(body: str) -> arithmetic.Result:
    try:
        return arithmetic.evaluate(body)
    except arithmetic.NotArithmetic:
        # "40 percent off a 60 dollar jacket": the price, without its article and thing
        m = _PRICE.match(body)
        if m is None:
            raise
        return arithmetic.evaluate(f"{m[1]} {m[2]}")


def _amount(raw: str) -> float | None:
    try:
        tokens = arithmetic.tokenize(raw)
    except arithmetic.NotArithmetic:
        return None
    if tokens == ["-"] or not tokens:
        return None
    if len(tokens) == 2 and tokens[0] == "-" and isinstance(tokens[1], float):
        return -tokens[1]
    return tokens[0] if len(tokens) == 1 and isinstance(tokens[0], float) else None


def _converted(c: units.Conversion) -> Answer:
    amount, value = arithmetic.fmt(c.amount), arithmetic.fmt(c.value)
    source = c.source.name
    if c.amount == 1 and source.endswith("s") and c.source.kind != "temperature":
        source = "foot" if source == "feet" else "inch" if source == "inches" else source[:-1]
    return Answer(c.value, f"{amount} {source} is {value} {c.target.name}.")


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


async def _calculate(args: dict[str, Any]) -> dict[str, Any]:
    answer = solve(str(args.get("expression", "")))
    if answer is None:
        return {"error": "I can only work out sums and unit conversions"}
    return {"value": answer.value, "answer": answer.text}


def calculator_tool() -> Tool:
    """The builtin tool behind the calculator intent (`[tools] enabled` "calculator")."""
    return Tool(
        NAME,
        "Work out arithmetic, percentages and unit conversions",
        {
            "type": "object",
            "properties": {"expression": {"type": "string"}},
            "required": ["expression"],
        },
        handler=_calculate,
        keywords=("calculate", "plus", "minus", "multiply", "divide", "percent", "convert"),
        examples=("What is 12 times 12?", "Convert 5 miles to kilometers"),
        reply="{answer}",
        policy=False,  # a whole request that is a sum: the calculator intent decides
    )

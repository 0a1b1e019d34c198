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

from rtvi_edge.tools import arithmetic, sum_phrasings, units
from rtvi_edge.tools.numbers import TEN_WORDS, UNIT_WORDS
from rtvi_edge.tools.registry import Tool

_FRAME = re.compile(
    r"^(?:(?:hey|ok|okay|so|um|please|quick question)\s+)*"
    r"(?:(?:can|could|would|will) you (?:please )?(?:tell me |work out |calculate |compute )?|"
    r"do you know |tell me |i want to know |i'd like to know |"
    r"(?:i|we) (?:need to|want to|have to|would like to|'d like to) |if (?:i|we|you) )?"
    r"(?:what(?:'s| is| are| does| do)|whats|how much (?:is|are|does|do)|how much|"
    r"calculate|compute|work out|figure out|solve|convert|change)?\s*"
)
_TAIL = re.compile(
    r"\s*(?:equal|equals|make|come to|give you|give me|exactly|please|for me|"
    r"in total|altogether|then|each|"
    # what is asked after a share or a price: "how many each", "what do I pay"
    r"how (?:many|much) (?:each|for each|per (?:person|head|kid|child)|"
    r"does each (?:one |person |kid |child )?get|do they (?:each )?get|do we (?:each )?get)|"
    r"(?:what|how much) (?:do|will|would|should) (?:i|we) pay|"
    r"what(?:'s| is) the (?:new |final )?price|"
    r"what does it cost|how much is that|what is that|what's that)?\s*$"
)
_PRICE = re.compile(r"^(.+? percent (?:of|off)) (?:an? |the |my )?([\d.]+) [a-z]+$")
_NUMBER_WORD = "|".join((*UNIT_WORDS, *TEN_WORDS, "hundred", "thousand", "point"))
_BELOW_ZERO = re.compile(
    rf"\b(\d+(?:\.\d+)?|(?:(?:{_NUMBER_WORD})[ -](?:and )?)*(?:{_NUMBER_WORD}))"
    r" (?:degrees? )?below (?:zero|freezing|nought)\b"
)
NAME = "calculate"


@dataclass(frozen=True)
class Answer:
    value: float | None  # None: it cannot be computed (a division by zero)
    text: str  # what to say


def _normalize(text: str) -> str:
    text = text.lower().replace("’", "'").strip()
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)  # 1,000
    text = re.sub(r"(?<=\d),\s+(?=\d)", " and ", text)  # "add up 19, 23 and 8": a list
    text = re.sub(r"[?!,;:]", " ", text)
    text = re.sub(r"(?<!\d)\.|\.(?!\d)", " ", text)
    text = re.sub(r"\$\s*(\d)", r"\1", text)
    text = re.sub(r"\b(dollars?|euros?|pounds sterling|bucks)\b", "", text)
    text = re.sub(r"\bthe (?=(?:sum|product|difference|square)\b)", "", text)
    text = re.sub(r"\s*%", " percent", text)
    text = re.sub(r"\b(\d+(?:\.\d+)?)k\b", r"\1 k", text)  # "a 5k run": kilometres, to units
    # "ten below zero": a negative amount
    text = _BELOW_ZERO.sub(r"minus \1", text)
    return " ".join(text.split())


def solve(text: str) -> Answer | None:
    """The answer to a request that is a sum or a conversion; None for anything else."""
    for reading in (text, *sum_phrasings.clauses(text, _converts)):
        if (answer := _solve_one(reading)) is not None:
            return answer
    return None


def _converts(phrase: str) -> bool:
    return units.parse(_normalize(phrase), _amount) is not None


def _solve_one(text: str) -> Answer | None:
    norm = _normalize(text)
    body = _FRAME.sub("", norm, count=1)
    body = _TAIL.sub("", body).strip()
    if not body:
        return None
    if conversion := units.parse(body, _amount):
        return _converted(conversion)
    body = sum_phrasings.rewrite(body)
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
    """The amount before a unit: "5", "three point five", "a quarter of an", "half a"."""
    raw = re.sub(r"(?:^| )(?:of )?(?:an?|the)$|(?<= )of$", "", raw).strip()
    raw = re.sub(r"^(?:(?:a|one) )?(half|third|quarter)$", r"one \1", raw)
    try:
        tokens = arithmetic.tokenize(raw)
    except arithmetic.NotArithmetic:
        return None
    if tokens == ["-"] or not tokens:
        return None
    if len(tokens) == 2 and tokens[0] == "-" and isinstance(tokens[1], float):
        return -tokens[1]
    if len(tokens) == 3 and tokens[1] == "/" and all(isinstance(t, float) for t in tokens[::2]):
        numerator, denominator = tokens[0], tokens[2]  # "three quarters": a fraction
        assert isinstance(numerator, float) and isinstance(denominator, float)
        return numerator / denominator if denominator else None
    return tokens[0] if len(tokens) == 1 and isinstance(tokens[0], float) else None


def _converted(c: units.Conversion) -> Answer:
    amount, value = arithmetic.fmt(c.amount), arithmetic.fmt(c.value)
    source = c.source.name
    if c.amount == 1 and source.endswith("s") and c.source.kind != "temperature":
        source = "foot" if source == "feet" else "inch" if source == "inches" else source[:-1]
    said = f"{amount} {source} is {value} {c.target.name}{_whole(c)}."
    return Answer(c.value, _capital(said))  # "Minus 10 degrees Celsius is …"


_CLOCK = (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))


def _whole(c: units.Conversion) -> str:
    """A time that is not a whole number of its unit, also in whole units: "52.14 weeks"
    is "52 weeks and 1 day"."""
    whole = int(c.value)
    rest = round((c.value - whole) * c.target.factor)  # seconds
    if c.target.kind != "time" or whole < 1 or rest < 1:
        return ""
    parts: list[str] = []
    for name, size in _CLOCK:
        if size < c.target.factor and rest >= size and len(parts) < 2:
            n, rest = divmod(rest, size)
            parts.append(f"{n} {name}{'s' if n != 1 else ''}")
    unit = c.target.name[:-1] if whole == 1 else c.target.name
    return f", or {whole} {unit} and {' and '.join(parts)}" if parts else ""


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

"""Spoken arithmetic: "seven times eight", "15 percent of 80", "the square root of 81".

A 135M model cannot multiply; this can, exactly, and safely: the words become tokens
(numbers and operators) and a small recursive-descent parser computes the value. No
`eval`, nothing but the four operations, powers, roots and percentages. The whole
expression must be understood, or there is no answer: "How many times have I asked
you?" is not a sum. Sans-I/O: words in, a number out.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from rtvi_edge.tools.numbers import TEN_WORDS, UNIT_WORDS

_SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000, "billion": 1_000_000_000}
_FRACTIONS = {"half": 0.5, "third": 1 / 3, "quarter": 0.25, "fifth": 0.2, "tenth": 0.1}
# Denominators said as ordinals: "two thirds of 90", "seven eighths", "three quarters".
_DENOMINATORS = {
    "half": 2, "halves": 2, "third": 3, "quarter": 4, "fourth": 4, "fifth": 5, "sixth": 6,
    "seventh": 7, "eighth": 8, "ninth": 9, "tenth": 10, "twelfth": 12, "twentieth": 20,
    "hundredth": 100, "thousandth": 1000,
}  # fmt: skip

# Operator phrases, longest first; each becomes one token.
_OPERATORS: tuple[tuple[str, str], ...] = (
    ("to the power of", "^"),
    ("raised to the power of", "^"),
    ("raised to", "^"),
    ("multiplied by", "*"),
    ("divided by", "/"),
    ("percent of", "%of"),
    ("per cent of", "%of"),
    ("% of", "%of"),
    ("percent off", "%off"),
    ("% off", "%off"),
    ("square root of", "sqrt"),
    ("the square root of", "sqrt"),
    ("cube root of", "cbrt"),
    ("take away", "-"),
    ("times", "*"),
    ("x", "*"),
    ("over", "/"),
    ("plus", "+"),
    ("minus", "-"),
    ("negative", "-"),
    ("squared", "sq"),
    ("cubed", "cube"),
    ("percent", "%"),
    ("per cent", "%"),
    ("twice", "2*"),
    ("double", "2*"),
    ("triple", "3*"),
)
_SYMBOLS = {"+": "+", "-": "-", "*": "*", "×": "*", "/": "/", "÷": "/", "^": "^", "%": "%"}
SAY = {"+": "plus", "-": "minus", "*": "times", "/": "divided by", "^": "to the power of"}


class NotArithmetic(Exception):
    """The words are not (all) a sum."""


@dataclass(frozen=True)
class Result:
    value: float
    said: str  # the expression in plain words, to speak back


def evaluate(expression: str) -> Result:
    """The value of a spoken or written expression; raises NotArithmetic, or
    ZeroDivisionError for a division by zero."""
    tokens = tokenize(expression)
    if not any(isinstance(t, float) for t in tokens) or not any(isinstance(t, str) for t in tokens):
        raise NotArithmetic(expression)  # a number alone, or words alone, is no sum
    parser = _Parser(tokens)
    value = parser.expression()
    if parser.pos != len(tokens):
        raise NotArithmetic(expression)
    if math.isnan(value) or math.isinf(value):
        raise NotArithmetic(expression)
    return Result(value, _said(tokens))


Token = float | str


def tokenize(text: str) -> list[Token]:
    text = text.lower().replace(",", "").replace("’", "'")
    text = re.sub(r"(?<=[a-z])-(?=[a-z])", " ", text)  # "twenty-five"
    text = re.sub(r"(?<=\d)\s*([+×*/÷^%])\s*|\s*([+×*/÷^])\s*(?=\d)", r" \1\2 ", text)
    text = re.sub(r"(?<=\d)x(?=\d)", " x ", text)
    text = re.sub(r"\bhalf a dozen\b", "6", text)
    words = re.sub(
        r"\ba (hundred|thousand|million|dozen)\b", r"one \1", text.replace("-", " - ")
    ).split()
    out: list[Token] = []
    i = 0
    while i < len(words):
        number, used = _number(words, i)
        if used:
            i += used
            half = _denominator(words[i + 2]) if i + 2 < len(words) else None
            if words[i : i + 2] == ["and", "a"] and half:  # "two and a half"
                number += 1 / half
                i += 3
            out.append(number)
            if i < len(words) and (denominator := _denominator(words[i])):
                # "two thirds (of)": a numerator over an ordinal, "of" a product
                out += ["/", float(denominator)]
                i += 1
                if i < len(words) and words[i] == "of":
                    out.append("*")
                    i += 1
            elif i + 1 < len(words) and words[i] == "of" and len(out) >= 3 and out[-2] == "/":
                out.append("*")  # "3/4 of 100": a written fraction, then "of"
                i += 1
            continue
        op, used = _operator(words, i)
        if not used:
            raise NotArithmetic(words[i])
        if op.endswith("*") and op != "*":  # "half of", "twice": a factor
            out += [float(op[:-1]), "*"]
        else:
            out.append(op)
        i += used
    return out


def _denominator(word: str) -> int | None:
    if word in _DENOMINATORS:
        return _DENOMINATORS[word]
    return _DENOMINATORS.get(word[:-1]) if word.endswith("s") else None


def _operator(words: list[str], i: int) -> tuple[str, int]:
    for phrase, op in _OPERATORS:
        n = len(phrase.split())
        if words[i : i + n] == phrase.split():
            return op, n
    if words[i] in _SYMBOLS:
        return _SYMBOLS[words[i]], 1
    for name, value in _FRACTIONS.items():  # "half of", "a third of"
        for lead in ((name, "of"), ("a", name, "of"), ("one", name, "of")):
            if tuple(words[i : i + len(lead)]) == lead:
                return f"{value}*", len(lead)
    return "", 0


def _number(words: list[str], i: int) -> tuple[float, int]:
    """A number in digits ("12.5") or words ("one hundred and five", "three point five")."""
    if re.fullmatch(r"\d+(?:\.\d+)?", words[i]):
        return float(words[i]), 1
    total, current, j, last = 0.0, 0.0, i, ""
    while j < len(words):
        w = words[j]
        if w in UNIT_WORDS and last in ("", "ten", "scale", "and"):
            current += UNIT_WORDS[w]
            last = "unit"
        elif w in TEN_WORDS and last in ("", "scale", "and"):
            current += TEN_WORDS[w]
            last = "ten"
        elif w == "dozen" and last in ("unit", "ten"):  # "two dozen"
            current *= 12
            last = "scale"
        elif w == "hundred" and last in ("unit", "ten"):
            current *= 100
            last = "scale"
        elif w in _SCALES and last in ("unit", "ten", "scale"):
            total += (current or 1) * _SCALES[w]
            current, last = 0.0, "scale"
        elif (
            w == "and" and last == "scale" and j + 1 < len(words) and _is_number_word(words[j + 1])
        ):
            last = "and"
        elif w == "point" and last in ("", "unit", "ten", "scale") and _digit(words, j + 1):
            digits = ""
            j += 1
            while _digit(words, j):
                digits += str(UNIT_WORDS[words[j]])
                j += 1
            return total + current + float("0." + digits), j - i
        else:
            break
        j += 1
    if last in ("", "and"):
        return 0.0, 0
    return total + current, j - i


def _digit(words: list[str], j: int) -> bool:
    return j < len(words) and UNIT_WORDS.get(words[j], 10) < 10


def _is_number_word(w: str) -> bool:
    return w in UNIT_WORDS or w in TEN_WORDS or w.isdigit()


class _Parser:
    """expression := term (('+'|'-') term)*;  term := factor (('*'|'/'|'%of'|'%off') factor)*;
    factor := unary ('^' factor)?;  unary := ('-'|'sqrt'|'cbrt') unary | number postfix*"""

    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.pos = 0

    def _peek(self) -> Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _take(self) -> Token:
        token = self._peek()
        if token is None:
            raise NotArithmetic("the sum ends too soon")
        self.pos += 1
        return token

    def expression(self) -> float:
        value = self.term()
        while self._peek() in ("+", "-"):
            op = self._take()
            if self._bare_percent():  # "45 plus 20 percent": 20 percent of 45 more
                percent = self._take()
                self._take()
                assert isinstance(percent, float)
                right = value * percent / 100
            else:
                right = self.term()
            value = value + right if op == "+" else value - right
        return value

    def _bare_percent(self) -> bool:
        rest = self.tokens[self.pos : self.pos + 3]
        return (
            len(rest) >= 2
            and isinstance(rest[0], float)
            and rest[1] == "%"
            and (len(rest) == 2 or rest[2] in ("+", "-"))
        )

    def term(self) -> float:
        value = self.factor()
        while self._peek() in ("*", "/", "%of", "%off"):
            op = self._take()
            right = self.factor()
            if op == "*":
                value *= right
            elif op == "/":
                value /= right  # ZeroDivisionError is the caller's to word
            elif op == "%of":
                value = value / 100 * right
            else:
                value = right * (1 - value / 100)
        return value

    def factor(self) -> float:
        value = self.unary()
        if self._peek() == "^":
            self._take()
            exponent = self.factor()
            if abs(exponent) > 64 or (value < 0 and exponent != int(exponent)):
                raise NotArithmetic("a power this device will not compute")
            value = value**exponent
        return value

    def unary(self) -> float:
        token = self._take()
        if token == "-":
            return -self.unary()
        if token in ("sqrt", "cbrt"):
            operand = self.unary()
            if token == "sqrt":
                if operand < 0:
                    raise NotArithmetic("the square root of a negative number")
                return math.sqrt(operand)
            return math.copysign(abs(operand) ** (1 / 3), operand)
        if not isinstance(token, float):
            raise NotArithmetic(str(token))
        value = token
        while self._peek() in ("sq", "cube", "%"):
            op = self._take()
            value = value**2 if op == "sq" else value**3 if op == "cube" else value / 100
        return value


def fmt(value: float) -> str:
    """A number as it is best spoken: 56, 37.78, 0.333, minus 5."""
    if abs(value - round(value)) < 1e-9:
        text = str(round(value))
    elif abs(value) >= 0.01:
        text = f"{value:.2f}".rstrip("0").rstrip(".")
    else:
        text = f"{value:.3g}"
    return f"minus {text[1:]}" if text.startswith("-") else text


def _said(tokens: list[Token]) -> str:
    out: list[str] = []
    for t in tokens:
        if isinstance(t, float):
            out.append(fmt(t))
        elif t in SAY:
            out.append(SAY[t])
        else:
            out.append(
                {
                    "%of": "percent of",
                    "%off": "percent off",
                    "%": "percent",
                    "sqrt": "the square root of",
                    "cbrt": "the cube root of",
                    "sq": "squared",
                    "cube": "cubed",
                }[t]
            )
    text = " ".join(out)
    return re.sub(r"\b0\.5 times\b", "half of", text)

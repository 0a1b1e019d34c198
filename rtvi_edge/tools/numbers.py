"""Spoken numbers and durations: "five", "twenty one", "1.5", "an hour and a half"."""

from __future__ import annotations

import re

_UNITS = {
    w: i
    for i, w in enumerate(
        [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
        ]
    )
}
_TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
UNIT_WORDS = _UNITS  # "seven" → 7 (the calculator reads them too)
TEN_WORDS = _TENS
_SPECIAL = {"a": 1, "an": 1, "a couple of": 2, "a few": 3, "half an": 0.5, "half a": 0.5}
UNIT_SECONDS = {"second": 1, "sec": 1, "minute": 60, "min": 60, "hour": 3600}

NUMBER_WORDS = "|".join(
    sorted([*map(re.escape, _SPECIAL), *_UNITS, *_TENS, "hundred", "and"], key=len, reverse=True)
)
NUMBER_RE = rf"(?:\d+(?:\.\d+)?|(?:(?:{NUMBER_WORDS})[\s-]*)+)"


def parse_number(text: str) -> float | None:
    text = text.strip().lower().replace("-", " ")
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        pass
    if text in _SPECIAL:
        return _SPECIAL[text]
    total, current, seen = 0.0, 0.0, False
    for word in text.split():
        if word in _UNITS:
            current += _UNITS[word]
        elif word in _TENS:
            current += _TENS[word]
        elif word == "hundred":
            current = max(current, 1) * 100
        elif word == "and":
            continue
        else:
            return None
        seen = True
    return total + current if seen else None


_PART = re.compile(
    rf"(?P<n>{NUMBER_RE})(?P<half> and a half)?\s*(?P<unit>second|sec|minute|min|hour)s?\b",
    re.IGNORECASE,
)


def parse_duration(text: str) -> float | None:
    """Seconds in "5 minutes", "one hour and thirty minutes", "an hour and a half"."""
    lowered = text.lower()
    total = 0.0
    found = False
    for m in _PART.finditer(lowered):
        value = parse_number(m["n"])
        if value is None:
            continue
        unit = UNIT_SECONDS[m["unit"].lower()]
        total += (value + (0.5 if m["half"] else 0)) * unit  # "two and a half minutes"
        found = True
        rest = lowered[m.end() : m.end() + 12]
        if rest.startswith(" and a half"):  # "an hour and a half"
            total += 0.5 * unit
    return total if found and total > 0 else None


def say_duration(seconds: float) -> str:
    seconds = round(seconds)
    parts = []
    for name, size in (("hour", 3600), ("minute", 60), ("second", 1)):
        n, seconds = divmod(seconds, size)
        if n:
            parts.append(f"{n} {name}{'s' if n != 1 else ''}")
    return " and ".join(parts) or "0 seconds"

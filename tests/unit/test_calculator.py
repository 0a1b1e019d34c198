"""The local calculator and unit converter: exact answers to spoken sums, and nothing
for what is not a sum."""

from __future__ import annotations

import pytest

from rtvi_edge.tools import arithmetic
from rtvi_edge.tools.calculator import calculator_tool, solve
from rtvi_edge.tools.units import parse


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("What is seven times eight?", 56),
        ("What is 12 times 12?", 144),
        ("Nine times six?", 54),
        ("What's 15 percent of 80?", 12),
        ("How much is 250 divided by 5?", 50),
        ("What's nine minus fourteen?", -5),
        ("What is three point five times two?", 7),
        ("What is 7 plus 8 times 2?", 23),  # precedence
        ("What is 2 to the power of 10?", 1024),
        ("What's the square root of 81?", 9),
        ("What is half of 96?", 48),
        ("Add 17 and 26.", 43),
        ("Subtract 45 from 100.", 55),
        ("Multiply four times twenty-five.", 100),
        ("Divide 144 by 12.", 12),
        ("How many times does eight go into sixty four?", 8),
        ("What's 40 percent off a 60 dollar jacket?", 36),
        ("one hundred and five plus one thousand two hundred", 1305),
        ("What is 5 squared?", 25),
        ("2+2", 4),
        ("what is 3.5*2", 7),
        ("What is minus 3 times 4?", -12),
        ("Calculate 1,000 minus 1", 999),
        # fractions: an ordinal denominator, a written fraction, "and a half"
        ("What is two thirds of 90?", 60),
        ("What's a quarter of 200?", 50),
        ("Three quarters of 40?", 30),
        ("What is 3/4 of 12?", 9),
        ("What is one and a half plus two?", 3.5),
    ],
)
def test_sums(text: str, value: float) -> None:
    answer = solve(text)
    assert answer is not None and answer.value == pytest.approx(value), (text, answer)
    assert arithmetic.fmt(value) in answer.text


@pytest.mark.parametrize(
    ("text", "value", "unit"),
    [
        ("Convert 100 degrees Fahrenheit to Celsius.", 37.78, "Celsius"),
        ("What's 20 degrees Celsius in Fahrenheit?", 68, "Fahrenheit"),
        ("Convert 0 degrees Celsius to kelvin", 273.15, "kelvin"),
        ("How many centimeters are in 5 inches?", 12.7, "centimeters"),
        ("Convert 10 kilometers to miles.", 6.21, "miles"),
        ("How many pounds is 3 kilograms?", 6.61, "pounds"),
        ("How many ounces in a kilogram?", 35.27, "ounces"),
        ("What's 6 feet in meters?", 1.83, "meters"),
        ("How many cups are in a liter?", 4.23, "cups"),
        ("convert three point five miles to km", 5.63, "kilometers"),
        # time units
        ("How many seconds are in an hour?", 3600, "seconds"),
        ("How many minutes in a day?", 1440, "minutes"),
        ("Convert 90 minutes to hours.", 1.5, "hours"),
        ("How many days are in 3 weeks?", 21, "days"),
    ],
)
def test_conversions(text: str, value: float, unit: str) -> None:
    answer = solve(text)
    assert answer is not None and answer.value == pytest.approx(value, abs=0.01), text
    assert f"{arithmetic.fmt(round(value, 2))} " in answer.text and unit in answer.text


@pytest.mark.parametrize(
    "text",
    [
        "How many times have I asked you that today?",
        "Is three times five more than twelve?",
        "What does timeless mean?",
        "Times Square is in which city?",
        "What time is it?",
        "Set a timer for five minutes.",
        "Set a time for the meeting.",
        "Lights out at nine.",
        "what is 5",
        "What is x?",
        "Convert 5 miles to kilograms",  # not the same kind of unit
        "How many times does the heart beat in a minute?",
        "What is the square root of minus 4?",
        "How many minutes until dinner?",  # a time unit, but nothing to convert
        "How many days are in a leap year?",
        "",
    ],
)
def test_not_a_sum(text: str) -> None:
    assert solve(text) is None


def test_division_by_zero_is_said_not_raised() -> None:
    answer = solve("What is 10 divided by 0?")
    assert answer is not None and answer.value is None and "zero" in answer.text


def test_no_eval_only_numbers_and_operators() -> None:
    with pytest.raises(arithmetic.NotArithmetic):
        arithmetic.evaluate("__import__('os').system('true')")
    with pytest.raises(arithmetic.NotArithmetic):
        arithmetic.evaluate("2 ^ 1000")  # far too big a power


def test_units_need_a_known_unit_on_both_sides() -> None:
    assert parse("5 parsecs in meters", lambda raw: 5.0) is None
    assert parse("5 miles in km", lambda raw: 5.0) is not None


async def test_the_calculator_tool_answers_and_refuses() -> None:
    tool = calculator_tool()
    assert tool.handler is not None and not tool.policy  # only its intent calls it
    ok = await tool.handler({"expression": "what is 6 times 7"})
    assert ok["value"] == 42 and ok["answer"] == "6 times 7 is 42."
    bad = await tool.handler({"expression": "tell me a joke"})
    assert "error" in bad

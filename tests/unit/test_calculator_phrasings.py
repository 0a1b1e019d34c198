"""Everyday phrasings of sums and conversions, one family per test: each is answered with
the exact number, and what only looks like one is not answered at all (no invented
number). The phrasings are written here, not taken from a bench set."""

from __future__ import annotations

import pytest

from rtvi_edge.tools.calculator import solve


def _value(text: str) -> float | None:
    answer = solve(text)
    return None if answer is None else answer.value


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Divide 72 cookies among 8 children.", 9),
        ("Share one hundred and twenty marbles between five friends.", 24),
        ("Split the bill of 84 between the four of us.", 21),
        ("Split a 90 euro bill between 3 of us, how much each?", 30),
        ("We need to split 90 euros three ways.", 30),
        ("300 pounds shared equally between 6 people, how much each?", 50),
        ("If we share 45 grapes among 5 kids, how many does each kid get?", 9),
        ("Share 48 stickers between 6 kids, how many do they each get?", 8),
    ],
)
def test_sharing_and_splitting(text: str, value: float) -> None:
    assert _value(text) == pytest.approx(value)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("What's 20 C in F?", 68),
        ("How many Celsius is 212 Fahrenheit?", 100),
        ("Minus 40 Celsius in Fahrenheit?", -40),
        ("Twenty five below zero Celsius in Fahrenheit?", -13),
        ("The oven's at 180 Celsius, what's that in Fahrenheit?", 356),
        ("My thermometer reads 98.6 Fahrenheit; what is it in Celsius?", 37),
        ("Forty Celsius is how many Fahrenheit?", 104),
    ],
)
def test_temperatures_in_any_order(text: str, value: float) -> None:
    assert _value(text) == pytest.approx(value, abs=0.01)


def test_a_negative_amount_opens_its_sentence_with_a_capital() -> None:
    answer = solve("Minus 40 Celsius in Fahrenheit?")
    assert answer is not None and answer.text.startswith("Minus 40 degrees Celsius is")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("A 10k race in miles?", 6.214),
        ("How many miles is a marathon?", 26.219),
        ("A half marathon in kilometres?", 21.0975),
        ("How many metres is 6 feet?", 1.8288),
        ("What's 70 mph in km/h?", 112.65),
        ("I cycled 30 km, how many miles is that?", 18.64),
        ("Three point five kilometres is how many metres?", 3500),
    ],
)
def test_distances_and_speeds(text: str, value: float) -> None:
    assert _value(text) == pytest.approx(value, abs=0.01)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("How many kilos is 10 stone?", 63.5),
        ("The baby weighs 8 pounds, how many kilos is that?", 3.63),
        ("How many grams in three quarters of a kilogram?", 750),
        ("How many ounces make up a pound?", 16),
        ("How many minutes are there in a quarter of an hour?", 15),
        ("Ten days is how many hours?", 240),
    ],
)
def test_weights_and_fractions_of_a_unit(text: str, value: float) -> None:
    assert _value(text) == pytest.approx(value, abs=0.01)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("What's a 20 percent tip on 45?", 9),
        ("18% tip on a 50 dollar bill.", 9),
        ("How much should I tip on 60 at 10 percent?", 6),
        ("What is 20 percent off 45?", 36),
        ("A jacket costs 80 with 30% off, what's the new price?", 56),
        ("Shoes at 50 with a 10 percent discount, what do I pay?", 45),
        ("What's 45 plus 20 percent?", 54),
        ("What's 200 minus 15 percent?", 170),
        ("Increase 50 by 10 percent.", 55),
        ("Reduce 80 by 25 percent.", 60),
        ("40 dollars plus a 15 percent tip?", 46),
    ],
)
def test_percentages_tips_and_discounts(text: str, value: float) -> None:
    assert _value(text) == pytest.approx(value)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("What's twice 45?", 90),
        ("Half of 250?", 125),
        ("What's a dozen times 3?", 36),
        ("What's two dozen plus one?", 25),
        ("Half a dozen times 2?", 12),
        ("What's a quarter of 80?", 20),
        ("What's point five times 8?", 4),
        ("What's three point two five plus one?", 4.25),
        ("Add 3, 4, 5 and 6.", 18),
        ("What is the sum of 10, 20 and 30?", 60),
        ("Total up 5, 10 and 15.", 30),
        ("What number squared is 144?", 12),
        ("What number cubed gives 27?", 3),
        ("What's negative 5 plus 3?", -2),
    ],
)
def test_words_for_numbers_and_lists(text: str, value: float) -> None:
    assert _value(text) == pytest.approx(value)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Quick one: eight times nine?", 72),
        ("Right, what's 12 times 4?", 48),
        ("Ok so: 9 times 7?", 63),
        ("Hey there, 4 plus 4?", 8),
    ],
)
def test_a_short_lead_in_is_not_part_of_the_sum(text: str, value: float) -> None:
    assert _value(text) == pytest.approx(value)


@pytest.mark.parametrize(
    "text",
    [
        "Set a timer, what's 5 times 3?",  # a command before it: not a bare sum
        "Set the thermostat to 20 degrees Celsius, what's that in Fahrenheit?",
        "I ran 5k and then 3k, how many miles is that?",  # two quantities: which?
        "It's 2 degrees below zero, what's that in Fahrenheit?",  # degrees of what?
        "Turn the heating to 21, it's cold.",
        "Play 5 songs, in French.",
        "What's 15 percent tip?",
        "Split the pizza between the kids.",
        "How tall is the Eiffel tower in metres?",
        "Give the fish 2 portions, that's enough.",
        "Share the photos with 3 friends.",
        "What's 5k in dollars?",
    ],
)
def test_no_number_is_invented(text: str) -> None:
    assert solve(text) is None


def test_a_time_in_part_units_is_also_said_in_whole_ones() -> None:
    answer = solve("How many hours is 100 minutes?")
    assert answer is not None and "1.67 hours, or 1 hour and 40 minutes" in answer.text
    answer = solve("How many days are in 50 hours?")
    assert answer is not None and "2 days and 2 hours" in answer.text
    answer = solve("How many hours in 3 days?")
    assert answer is not None and answer.text == "3 days is 72 hours."

"""Unit conversions from spoken words: temperature, length, weight, volume, time.

"Convert 100 degrees Fahrenheit to Celsius", "How many centimeters are in 5 inches?",
"What's 6 feet in meters?". Sans-I/O: words in, a converted quantity out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Unit:
    name: str  # as spoken in the answer (plural)
    kind: str  # length, weight, volume, temperature, time
    factor: float = 1.0  # in the kind's base unit (metre, kilogram, litre)


_UNITS: dict[str, Unit] = {}


def _add(names: str, unit: Unit) -> None:
    for n in names.split(","):
        _UNITS[n.strip()] = unit


_add("millimeter,millimeters,millimetre,millimetres,mm", Unit("millimeters", "length", 0.001))
_add("centimeter,centimeters,centimetre,centimetres,cm", Unit("centimeters", "length", 0.01))
_add("meter,meters,metre,metres", Unit("meters", "length", 1.0))
_add(
    "kilometer,kilometers,kilometre,kilometres,km,k,kms,klicks",
    Unit("kilometers", "length", 1000.0),
)
_add("inch,inches", Unit("inches", "length", 0.0254))
_add("foot,feet,ft", Unit("feet", "length", 0.3048))
_add("yard,yards", Unit("yards", "length", 0.9144))
_add("mile,miles", Unit("miles", "length", 1609.344))
# Distances by name: "a marathon in km", "a half marathon in miles"
_add("marathon,marathons", Unit("marathons", "length", 42195.0))
_add("half marathon,half marathons", Unit("half marathons", "length", 21097.5))
_add("milligram,milligrams,mg", Unit("milligrams", "weight", 1e-6))
_add("gram,grams", Unit("grams", "weight", 0.001))
_add("kilogram,kilograms,kilo,kilos,kg", Unit("kilograms", "weight", 1.0))
_add("ounce,ounces,oz", Unit("ounces", "weight", 0.028349523125))
_add("pound,pounds,lb,lbs", Unit("pounds", "weight", 0.45359237))
_add("stone,stones", Unit("stone", "weight", 6.35029318))
_add("tonne,tonnes,metric ton,metric tons", Unit("tonnes", "weight", 1000.0))
_add("milliliter,milliliters,millilitre,millilitres,ml", Unit("milliliters", "volume", 0.001))
_add("liter,liters,litre,litres", Unit("liters", "volume", 1.0))
_add("teaspoon,teaspoons", Unit("teaspoons", "volume", 0.00492892159375))
_add("tablespoon,tablespoons", Unit("tablespoons", "volume", 0.01478676478125))
_add("fluid ounce,fluid ounces", Unit("fluid ounces", "volume", 0.0295735295625))
_add("cup,cups", Unit("cups", "volume", 0.2365882365))
_add("pint,pints", Unit("pints", "volume", 0.473176473))
_add("quart,quarts", Unit("quarts", "volume", 0.946352946))
_add("gallon,gallons", Unit("gallons", "volume", 3.785411784))
_add("miles per hour,mile per hour,mph", Unit("miles per hour", "speed", 0.44704))
_add(
    "kilometers per hour,kilometres per hour,kilometer per hour,kilometre per hour,km/h,kph,kmh",
    Unit("kilometers per hour", "speed", 1 / 3.6),
)
_add("meters per second,metres per second,m/s", Unit("meters per second", "speed", 1.0))
_add("knot,knots", Unit("knots", "speed", 1852 / 3600))
# Time: "How many seconds are in an hour?", "Convert 90 minutes to hours" (no months:
# their length varies; a year is 365 days).
_add("millisecond,milliseconds,ms", Unit("milliseconds", "time", 0.001))
_add("second,seconds,sec,secs", Unit("seconds", "time", 1.0))
_add("minute,minutes,min,mins", Unit("minutes", "time", 60.0))
_add("hour,hours,hr,hrs", Unit("hours", "time", 3600.0))
_add("day,days", Unit("days", "time", 86400.0))
_add("week,weeks", Unit("weeks", "time", 604800.0))
_add("fortnight,fortnights", Unit("fortnights", "time", 1209600.0))
_add("year,years", Unit("years", "time", 31536000.0))
_add(
    "celsius,centigrade,degrees celsius,degrees centigrade,degree celsius,c,degrees c",
    Unit("degrees Celsius", "temperature"),
)
_add(
    "fahrenheit,degrees fahrenheit,degree fahrenheit,f,degrees f",
    Unit("degrees Fahrenheit", "temperature"),
)
_add("kelvin,kelvins,degrees kelvin", Unit("kelvin", "temperature"))

_UNIT_RE = "|".join(sorted(map(re.escape, _UNITS), key=len, reverse=True))
_QTY = r"(?P<n>[\w.\- ]+?)"
# "convert 5 miles to km", "5 miles in km", "how many cm are in 5 inches",
# "how many pounds is 3 kilograms", "how many ounces in a kilogram",
# "six hours is how many minutes", "a 5 k run in miles"
_ACTIVITY = r"(?: (?:run|race|walk|hike|swim|ride|drive|trip|jog|cycle))?"
_FORMS = (
    re.compile(
        rf"^(?:convert |change |turn )?(?:an? )?{_QTY} (?:degrees? )?(?P<a>{_UNIT_RE}){_ACTIVITY} "
        rf"(?:in|to|into|as|in terms of) (?:degrees? )?(?P<b>{_UNIT_RE})$"
    ),
    re.compile(
        rf"^how (?:many|much) (?:degrees? )?(?P<b>{_UNIT_RE}) (?:are |is )?(?:there )?"
        rf"(?:in|to|make up|makes|make|go into|fit in|fit into|is|are|per|would be|equals?) "
        rf"(?:an? |one )?(?:{_QTY} )?(?:degrees? )?(?P<a>{_UNIT_RE}){_ACTIVITY}$"
    ),
    re.compile(
        rf"^(?:an? )?{_QTY} (?:degrees? )?(?P<a>{_UNIT_RE}){_ACTIVITY} "
        rf"(?:is|are|makes?|equals?|would be|comes to) "
        rf"(?:how many|how much|what|what in|how much in) (?:degrees? )?(?P<b>{_UNIT_RE})$"
    ),
)


@dataclass(frozen=True)
class Conversion:
    amount: float
    source: Unit
    target: Unit
    value: float


def convert(amount: float, source: Unit, target: Unit) -> float:
    if source.kind != target.kind:
        raise ValueError(f"{source.name} are not {target.name}")
    if source.kind == "temperature":
        return _from_celsius(_to_celsius(amount, source.name), target.name)
    return amount * source.factor / target.factor


def _to_celsius(v: float, name: str) -> float:
    if "Fahrenheit" in name:
        return (v - 32) * 5 / 9
    return v - 273.15 if name == "kelvin" else v


def _from_celsius(v: float, name: str) -> float:
    if "Fahrenheit" in name:
        return v * 9 / 5 + 32
    return v + 273.15 if name == "kelvin" else v


def parse(text: str, number: object) -> Conversion | None:
    """A conversion request in normalized words; `number` reads the amount
    ("5", "three point five", "" for "a kilogram")."""
    for form in _FORMS:
        m = form.match(text)
        if m is None:
            continue
        raw = (m.group("n") or "").strip()
        amount = 1.0 if raw in ("", "a", "an", "one") else number(raw)  # type: ignore[operator]
        if amount is None:
            continue
        source, target = _UNITS[m.group("a")], _UNITS[m.group("b")]
        if source.kind != target.kind or source == target:
            return None
        return Conversion(float(amount), source, target, convert(float(amount), source, target))
    return None

"""Local intents: common commands matched by sentence templates, answered without the LLM.

Templates are data (`intents.toml`, extendable with `[tools] intents_file`).
Slots: {duration} (spoken durations → seconds), {number}, {device} (the
configured device names). A template must match the whole utterance, so
"what time is it in Tokyo" is left to the LLM. After the templates, a request that is
nothing but a sum or a unit conversion goes to the calculator (tools/calculator.py).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rtvi_edge.errors import ConfigError
from rtvi_edge.tools import calculator
from rtvi_edge.tools.numbers import NUMBER_RE, parse_duration, parse_number

BUILTIN_FILE = Path(__file__).with_name("intents.toml")
_FILLERS = re.compile(
    r"^(?:(?:hey|ok|okay|please|so|um|uh|well|assistant|computer)\s+|"
    r"(?:can|could|would|will) you(?: please)?\s+|i want you to\s+|i'd like you to\s+)+"
)
_TRAILING = re.compile(r"\s+(?:please|right now|now|for me|thanks|thank you)$")

# "Turn on the X" for an X the device cannot switch: answered honestly, never by the
# LLM (a small model would happily claim it did). No tool runs for these.


@dataclass(frozen=True)
class Intent:
    name: str
    tool: str
    patterns: tuple[str, ...]
    response: str
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class IntentMatch:
    intent: Intent
    args: dict[str, Any]
    slots: dict[str, Any]

    def response(self, result: dict[str, Any]) -> str:
        if "error" in result:
            return f"Sorry, {result['error']}."
        values = {**self.slots, **result}
        try:
            return self.intent.response.format(**values)
        except (KeyError, IndexError, ValueError):
            return self.intent.response


NO_SUCH_DEVICE = Intent(
    "no_such_device",
    "",
    (),
    "Sorry, I can't control the {device}: no device by that name is set up.",
)
UNREACHABLE_DEVICE = Intent(
    "unreachable_device", "", (), "Sorry, I can't reach the {device} from here: MQTT is off."
)
CALCULATE = Intent(calculator.NAME, calculator.NAME, (), "{answer}")
# A device is named by a short noun phrase that ends the request: "turn off your brain
# and relax" or "turn on the charm, I'm meeting my in-laws" name no device at all.
_NOT_A_THING = (
    r"(?:and|or|but|so|because|then|your|his|her|their|its|it|me|you|him|them|us|this|that|"
    r"that's|i|i'm|i'll|we|we're|to|for|with|when|while|if|a bit|up|down)"
)
_THING_WORD = rf"(?!{_NOT_A_THING}\b)[\w'.-]+"
_ANY_DEVICE = rf"(?:the |my |our )?(?P<device>{_THING_WORD}(?: {_THING_WORD}){{0,4}})"


def normalize(text: str) -> str:
    text = text.lower().replace("’", "'")
    text = re.sub(r"[^\w'\s.-]", " ", text)
    text = re.sub(r"(?<!\d)\.|\.(?!\d)", " ", text)  # keep 1.5, drop sentence dots
    text = " ".join(text.split())
    text = _FILLERS.sub("", text)
    return _TRAILING.sub("", text).strip()


def load_intents(path: Path) -> list[Intent]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError([f"intents file {path}: {exc}"]) from exc
    out = []
    for i, item in enumerate(data.get("intent", [])):
        try:
            out.append(
                Intent(
                    name=str(item["name"]),
                    tool=str(item["tool"]),
                    patterns=tuple(str(p) for p in item["patterns"]),
                    response=str(item.get("response", "")),
                    args=dict(item.get("args", {})),
                )
            )
        except (KeyError, TypeError) as exc:
            raise ConfigError(
                [f"intents file {path}: intent #{i + 1}: missing or bad {exc}"]
            ) from None
    return out


class IntentMatcher:
    def __init__(self, intents: list[Intent], devices: list[str], tools: set[str]) -> None:
        self.intents = [i for i in intents if i.tool in tools]
        self._calculator = calculator.NAME in tools
        self._devices = set(devices)
        device_alt = "|".join(re.escape(d) for d in sorted(devices, key=len, reverse=True))
        self._compiled: list[tuple[Intent, re.Pattern[str]]] = []
        for intent in self.intents:
            for pattern in intent.patterns:
                if "{device}" in pattern and not device_alt:
                    continue
                device = rf"(?:the )?(?P<device>{device_alt})"
                self._compiled.append((intent, _compile(pattern, device)))
        # Last, after every real intent: a device command naming no switchable device.
        for intent in intents:
            for pattern in intent.patterns:
                if "{device}" in pattern and not pattern.startswith("{device}"):
                    self._compiled.append((NO_SUCH_DEVICE, _compile(pattern, _ANY_DEVICE)))

    def match(self, text: str) -> IntentMatch | None:
        norm = normalize(text)
        if not norm:
            return None
        for intent, regex in self._compiled:
            m = regex.match(norm)
            if m is None:
                continue
            slots = self._slots(m.groupdict())
            if slots is None:
                continue
            if intent is NO_SUCH_DEVICE and slots.get("device") in self._devices:
                intent = UNREACHABLE_DEVICE  # set up, but its tool is off (no MQTT here)
            args = {
                k: slots[v[1:]] if isinstance(v, str) and v.startswith("$") else v
                for k, v in intent.args.items()
            }
            return IntentMatch(intent, args, slots)
        if self._calculator and calculator.solve(text) is not None:
            return IntentMatch(CALCULATE, {"expression": text}, {})
        return None

    @staticmethod
    def _slots(groups: dict[str, str | None]) -> dict[str, Any] | None:
        slots: dict[str, Any] = {}
        for name, raw in groups.items():
            if raw is None:
                continue
            value: Any
            if name == "duration":
                value = parse_duration(raw)
            elif name == "number":
                value = parse_number(raw)
            else:
                value = raw
            if value is None:
                return None
            slots[name] = value
        return slots


def _compile(pattern: str, device: str) -> re.Pattern[str]:
    regex = re.escape(normalize(pattern) if "{" not in pattern else pattern.lower())
    regex = regex.replace(r"\{duration\}", r"(?P<duration>.+?)")
    regex = regex.replace(r"\{number\}", rf"(?P<number>{NUMBER_RE})")
    regex = regex.replace(r"\{device\}", device)
    return re.compile(rf"^{regex}$")


def intents_for(extra_file: str) -> list[Intent]:
    intents = load_intents(BUILTIN_FILE)
    if extra_file:
        # The user's templates come first, so they can override the builtin ones.
        intents = load_intents(Path(extra_file)) + intents
    return intents

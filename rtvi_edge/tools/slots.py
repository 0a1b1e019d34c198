"""Arguments read straight from the request, for the slots that need no model.

An enum value named in the request, the one number said, a spoken duration,
on/off, up/down: found here they are exact, where a 135M model filling JSON
sometimes is not. What is left (a free-text slot such as a city) goes to the
grammar-constrained model, and its value is checked against the words said.
"""

from __future__ import annotations

import re
from typing import Any

from rtvi_edge.tools.matching import stem
from rtvi_edge.tools.numbers import NUMBER_RE, parse_duration, parse_number

_NUMBER = re.compile(rf"(?<![\w.])({NUMBER_RE})(?!\w)(?!\.\d)", re.IGNORECASE)
_ON = re.compile(
    r"\b(on|open|start|enable|activate|light up|ignite)\b|"
    r"^(?:(?:please|could you|can you|would you)\s+)*light\b"  # "Light the fire", a verb
)
_OFF = re.compile(r"\b(off|close|shut|stop|disable|deactivate)\b")
_UP = re.compile(r"\b(up|louder|increase|raise|higher|more|boost)\b")
_DOWN = re.compile(r"\b(down|quieter|softer|lower|decrease|reduce|less)\b")
_NEGATE = re.compile(r"\b(unmute|un-mute|sound (?:back )?on|unsilence)\b")
# Words after which a free-text value usually comes ("weather in Paris").
_LEAD = re.compile(r"\b(?:in|at|for|to|of|about|called|named|near|add|put|buy)\s+", re.I)
_VALUE = re.compile(
    r"^(?:(?:the|my|our|your|a|an|some)\s+)?([A-Za-z][\w' -]*?)\s*"
    r"(?:today|tomorrow|tonight|now|please|right now|for me)?\s*(?:[,;]|[?.!]*$)",
    re.IGNORECASE,
)
_TAIL = re.compile(r"\s+(?:to|on|onto|in|into|for|from)\s+(?:the|my|our|a)\b.*$", re.IGNORECASE)
# Words after which all the rest is the text itself: a note, a message, a reminder
# ("Make a note that the plumber comes", "Save a note: call grandma", "Remind me to call
# mum", "Send a message saying I'm late").
_TEXT_LEAD = re.compile(
    r"\b(?:(?:note|memo|reminder)(?:\s*:|\s+(?:down|that|saying|to)\b)|"
    r"(?:write|jot|note)\s+down\b|remember\s+(?:that|to)\b|remind\s+me\s+(?:that|to)\b|"
    r"message(?:\s*:|\s+(?:that|saying)\b)|"
    # a message to say aloud: "Announce that …", "Broadcast: …", "Tell everyone on the
    # intercom we leave…"
    r"^(?:please\s+)?(?:announce|broadcast|say|shout|call\s+out|tell\s+(?:everyone|everybody|"
    r"the\s+(?:house|family|kids|household)))(?:\s+(?:on|over|through)\s+the\s+\w+)?"
    r"(?:\s*:|\s+that\b|(?=\s+(?:we|i|you|it|the|dinner|lunch|breakfast)\b))|"
    r"^(?:please\s+)?[a-z]+\s*:)\s*",
    re.IGNORECASE,
)
_SPAN_WORDS = ("a", "an", "the", "of", "and")
# Arguments named for a unit of time take a spoken duration in that unit.
_TIME_UNITS = {"minutes": 60, "mins": 60, "minute": 60, "hours": 3600, "hour": 3600}
_PRONOUNS = frozenset(
    ["it", "them", "this", "that", "these", "those", "him", "her", "me", "us", "something"]
)


def numbers_in(text: str) -> list[float]:
    out = []
    for m in _NUMBER.finditer(text):
        raw = m.group(1).strip()
        if raw.lower() in _SPAN_WORDS:
            continue
        value = parse_number(raw)
        if value is not None:
            out.append(value)
    return out


def local_value(name: str, spec: dict[str, Any], text: str) -> Any:
    """The value of one argument if the request states it plainly, else None."""
    lowered = text.lower()
    kind = spec.get("type")
    enum = spec.get("enum")
    if isinstance(enum, list) and enum:
        return _enum_value([str(e) for e in enum], lowered)
    if name in ("seconds", "duration_seconds") or (
        kind in ("number", "integer") and "second" in str(spec.get("description", ""))
    ):
        seconds = parse_duration(lowered)
        return int(seconds) if seconds is not None and kind == "integer" else seconds
    if name in ("duration",) and kind == "string":
        seconds = parse_duration(lowered)
        return text if seconds is not None else None
    unit = _TIME_UNITS.get(name.lower())
    if unit is not None and kind in ("number", "integer"):
        # "minutes": "half an hour" is 30, "ten minutes" is 10
        seconds = parse_duration(lowered)
        if seconds is not None:
            value = seconds / unit
            return round(value) if kind == "integer" else value
    if kind in ("number", "integer"):
        found = numbers_in(lowered)
        if len(found) != 1:
            ranged = None if found else _in_range(spec, lowered)
            if ranged is None:
                return None
            return int(ranged) if kind == "integer" else ranged
        return int(found[0]) if kind == "integer" else found[0]
    if kind == "boolean":
        return _boolean(name, lowered)
    return None


def must_be_said(name: str, spec: dict[str, Any]) -> bool:
    """An argument only the request's own words can give (no free text to guess)."""
    kind = spec.get("type")
    return bool(spec.get("enum")) or kind in ("number", "integer", "boolean") or name == "duration"


# Common words for common enum values ("skip this song" is "next").
_ENUM_SYNONYMS = {
    "next": ("skip", "forward"),
    "previous": ("go back", "last one", "back one"),
    "play": ("resume", "continue", "unpause"),
    "pause": ("hold on", "freeze"),
}


def _enum_value(options: list[str], lowered: str) -> str | None:
    hits = [o for o in options if re.search(rf"\b{re.escape(o.lower())}\b", lowered)]
    if not hits:  # "the lamp in the living room": every word of it, in any order
        said = set(re.findall(r"\w+", lowered))
        hits = [o for o in options if " " in o and set(o.lower().split()) <= said]
    if not hits:  # "the heating" for "heat": the same stem
        said_stems = {stem(w) for w in re.findall(r"\w+", lowered)}
        hits = [o for o in options if " " not in o and stem(o) in said_stems]
    if not hits:
        hits = [
            o
            for o in options
            if any(re.search(rf"\b{w}\b", lowered) for w in _ENUM_SYNONYMS.get(o.lower(), ()))
        ]
    if len(hits) == 1:
        return hits[0]
    if len(hits) > 1:  # "kitchen light" over "light": the longest named one
        hits.sort(key=len, reverse=True)
        return hits[0] if len(hits[0]) > len(hits[1]) else None
    low = [o.lower() for o in options]
    if set(low) <= {"on", "off", "up", "down", "open", "closed", "close"}:
        pairs = [(_ON, ("on", "open")), (_OFF, ("off", "closed", "close"))]
        pairs += [(_UP, ("up",)), (_DOWN, ("down",))]
        for regex, names in pairs:
            if regex.search(lowered):
                for o in options:
                    if o.lower() in names:
                        return o
    return None


def _boolean(name: str, lowered: str) -> bool | None:
    if name in ("muted", "mute"):
        if _NEGATE.search(lowered):
            return False
        return True if re.search(r"\b(mute|silence|silent)\b", lowered) else None
    state = _state_verb(name)
    if state:  # "locked": "unlock" is false, "lock" true; "armed": "disarm", "arm"
        if re.search(rf"\b(?:un|dis|de)-?{state}", lowered):
            return False
        if re.search(rf"\b{state}(?:s|ed|d|ing)?\b", lowered):
            return True
    if _OFF.search(lowered) or re.search(r"\b(no|don't|not)\b", lowered):
        return False
    if _ON.search(lowered) or re.search(r"\byes\b", lowered):
        return True
    return None


def _state_verb(name: str) -> str:
    """The verb of a boolean named for a state: "locked" → "lock", "armed" → "arm"."""
    word = name.lower().removeprefix("is_")
    for suffix in ("ed", "d"):
        base = word.removesuffix(suffix)
        if base != word and len(base) >= 3:
            return base
    return ""


def _in_range(spec: dict[str, Any], lowered: str) -> float | None:
    """A value in a declared range said in words: "halfway" is the middle, "close" the
    bottom, "open (all the way)" the top (blinds, a valve, a position in percent)."""
    low, high = spec.get("minimum"), spec.get("maximum")
    if not isinstance(low, int | float) or not isinstance(high, int | float):
        return None
    if re.search(r"\b(?:halfway|half way|half open|half closed|half)\b", lowered):
        return (low + high) / 2
    if re.search(r"\b(?:close|closed|shut|lower)\b", lowered):
        return low
    if re.search(r"\b(?:open|raise|up)\b", lowered):
        return high
    return None


def free_text(text: str, avoid: frozenset[str] = frozenset()) -> str | None:
    """A free-text value after a lead word: "the weather in New York" → "New York",
    "add apples to the shopping list" → "apples". The lead nearest the end wins; a
    value made of the tool's own words (`avoid`: "shopping list") or a pronoun is not one."""
    text = text.strip()
    whole = whole_text(text)
    if whole is not None:
        return whole
    leads = list(_LEAD.finditer(text))
    # A command that starts with its lead ("Add buy stamps to my list") takes all that
    # follows it: the lead words inside the value ("buy") are the user's words.
    first = [m for m in leads[:1] if re.match(r"^(?:please\s+)?(?:add|put|buy)\s", text, re.I)]
    for lead in first + list(reversed(leads)):
        m = _VALUE.match(text[lead.end() :])
        if m is None:
            continue
        value = _TAIL.sub("", m.group(1)).strip(" '")
        low = value.lower()
        if not value or low in _PRONOUNS or low.split()[-1] in avoid:
            continue
        return value
    return None


def whole_text(text: str) -> str | None:
    """All that follows a note's or a message's lead words, or None."""
    m = _TEXT_LEAD.search(text)
    if m is None:
        return None
    value = text[m.end() :].strip().rstrip(".!?").strip(" ,:;'\"")
    if not value or value.lower() in _PRONOUNS or len(value.split()) < 2:
        return None  # "Save a note" names no text; one word is rarely a whole note
    return value


def said(value: Any, text: str) -> bool:
    """A model-filled string value must be words the user said, not one it made up."""
    if not isinstance(value, str) or not value.strip() or value.strip().lower() in _PRONOUNS:
        return False
    return value.strip().lower() in text.lower()

"""The shapes of the device's fixed replies, which only the device may say.

The device answers some turns in fixed words: "Done: the porch light is now off." for an
action, "Sorry, I couldn't do that: …" for a failure, "I can't tell: …" for what it has
no tool for, "Timer set for 5 minutes.", and "Heating oil: percent 41, litres 820." for a
query's facts. Those answers stay in the context, and the 135M model, shown them, copies
their shape for a turn no tool ran in: "Done: nine times six:", "Windy: the wind is
blowing…", "Timer set for 15% of 60". In the model's mouth each such shape claims an
action or a reading that did not happen, so it is never the model's (pipeline/echo.py).
Sans-I/O.
"""

from __future__ import annotations

import re

from rtvi_edge.tools.answers import CONFIRMED

# The openings of the device's fixed sentences (tools/answers.py, tools/honesty.py,
# the builtin tools' replies in tools/builtin.py and tools/intents.toml).
OPENINGS = (
    CONFIRMED,
    "Sorry, I couldn't do that",
    "Sorry, the app did not answer",
    "I can't tell:",
    "I can't do that:",
    "Timer set for",
    "Cancelled.",
    "Turning on the",
    "Turning off the",
)
# A query's facts (answers.summary): a thing of one to three words, then a colon; not a
# clause ("The answer is: …", "It is 12:30") nor a number.
_SUMMARY = re.compile(
    r"^(?!(?:\S+ ){0,2}(?:is|are|was|were)\b)[A-Z][A-Za-z'-]*(?: [A-Za-z'-]+){0,2}:(?:\s|$)"
)
_VOLUME = re.compile(r"^Volume \d+ percent\b")
_SUMMARY_WORDS = 3


def device_shaped(text: str) -> bool:
    """`text` (an answer, or its first words) has the shape of a device's fixed reply."""
    text = text.lstrip()
    return (
        any(text.startswith(o) for o in OPENINGS)
        or _SUMMARY.match(text) is not None
        or _VOLUME.match(text) is not None
    )


def may_become(text: str) -> bool:
    """`text`, an answer's first words, may still become device-shaped: it is the start of
    an opening, or too few words, none followed by punctuation, to rule out "Thing:"."""
    text = text.lstrip()
    if not text:
        return True
    if any(o.startswith(text) for o in (*OPENINGS, "Volume ")):
        return True
    lead = text.split()
    return len(lead) <= _SUMMARY_WORDS and re.search(r"[^\w\s'-]", text) is None

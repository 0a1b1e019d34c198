"""Does the transcript so far end like a finished sentence? (the turn policy's text cue)

At a pause the speculative transcript is known ~60 ms after the pause began.
Its last word says what the audio model, trained on people's intonation, often
cannot on synthetic or flat speech: "set a timer for" is unfinished whatever
the pitch did; "What is two plus two?" with Whisper's question mark is
finished even when the model hears it as unfinished. Pure and small on
purpose: a word list, not a language model.
"""

from __future__ import annotations

import enum
import re


class TextEnd(enum.Enum):
    UNKNOWN = "unknown"  # no transcript yet, or nothing to go on
    OPEN = "open"  # ends on a word a sentence does not end with, a filler or "..."
    CLOSED = "closed"  # ends with . ? ! after a word that can end a sentence


# Words a request to a voice assistant does not end with: articles, possessives,
# conjunctions, prepositions, modal verbs, fillers. Whisper often closes a fragment
# with "?" ("Is it going to?"), so the word counts, not the mark. Not here: words
# that end questions as often as fragments ("does a spider have?", "what is this?",
# "where is it?" … "is"), nor modal verbs that are nouns too ("on a clear May?"):
# there the audio model decides.
OPEN_WORDS = frozenset(
    {
        "a",
        "an",
        "the",
        "my",
        "your",
        "our",
        "their",
        "every",
        "each",
        "and",
        "or",
        "nor",
        "but",
        "because",
        "if",
        "although",
        "though",
        "unless",
        "whether",
        "than",
        "when",
        "while",
        "until",
        "to",
        "for",
        "of",
        "at",
        "by",
        "with",
        "from",
        "into",
        "onto",
        "as",
        "via",
        "per",
        "be",
        "been",
        "could",
        "would",
        "should",
        "shall",
        "um",
        "uh",
        "er",
        "erm",
        "hmm",
        "ah",
    }
)
_WORD = re.compile(r"[A-Za-z0-9']+")


def classify(text: str) -> TextEnd:
    text = text.strip()
    if not text:
        return TextEnd.UNKNOWN
    words = _WORD.findall(text)
    if not words:
        return TextEnd.UNKNOWN
    if words[-1].lower() in OPEN_WORDS or text.endswith(("...", "…", ",", "-", "—")):
        return TextEnd.OPEN
    if text[-1] in ".?!":
        return TextEnd.CLOSED
    return TextEnd.UNKNOWN

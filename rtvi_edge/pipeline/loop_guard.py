"""Stops an answer that has started repeating itself.

A small model sometimes falls into a loop ("No, no, no, no, …", or a whole clause
again and again: 'A: The answer to the question "…" is: A: The answer to …') until
`max_tokens`. Spoken, that is half a minute of nonsense; kept in the LLM context, the
next answers copy it. So the stream is watched as it comes: when its end is one span
of words said again back to back — three times for a span of up to five words, twice
for a longer one — generation stops and the answer ends after the first copy.

Sans-I/O: `LoopGuard.push(piece)` returns where the answer should end (a character
index into everything pushed) once a loop is found, else None.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"[\w']+")
_MAX_SPAN = 40  # words; a longer repeated span is not a loop a turn could hold
_SHORT_SPAN = 5  # spans up to this many words must come three times


class LoopGuard:
    def __init__(self) -> None:
        self._text = ""
        self._words: list[str] = []  # normalised words
        self._ends: list[int] = []  # character index just after each word
        self._starts: list[int] = []

    def push(self, piece: str) -> int | None:
        """Add streamed text; the character index to cut the answer at, once it loops."""
        base = len(self._text)
        # A word may straddle two pieces: re-read from the last word's start.
        if self._words and self._ends[-1] == base:
            base = self._starts.pop()
            self._ends.pop()
            self._words.pop()
        self._text += piece
        for m in _WORD.finditer(self._text, base):
            self._words.append(m.group().lower())
            self._starts.append(m.start())
            self._ends.append(m.end())
        return self._loop_cut()

    def _loop_cut(self) -> int | None:
        words = self._words
        # The last word may still grow with the next piece: judge only whole words.
        if not words or self._ends[-1] == len(self._text):
            words = words[:-1]
        n = len(words)
        for span in range(1, min(_MAX_SPAN, n // 2) + 1):
            times = 3 if span <= _SHORT_SPAN else 2
            if span * times > n:
                break
            unit = words[n - span :]
            if all(words[n - k * span : n - (k - 1) * span] == unit for k in range(2, times + 1)):
                # Keep the loop's first copy and everything before it.
                return self._ends[n - (times - 1) * span - 1]
        return None

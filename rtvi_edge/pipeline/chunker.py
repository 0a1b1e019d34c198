"""Splits streamed LLM text into pieces worth synthesising.

The first piece goes out at the first clause boundary once it has a few
words, or after `first_max_words` words when no punctuation has come (time to
first audio matters most: waiting for the end of "A lemon is a classic example
of a yellow fruit." cost ~100 ms of LLM tokens and longer synthesis); later
pieces at sentence ends, or at clause ends once a sentence gets long.
"""

from __future__ import annotations

import re

_SENTENCE_END = ".!?"
_CLAUSE_END = ",;:—"
_LONG_WORDS = 18
_MAX_WORDS = 25  # a piece never longer, punctuation or not
_MARKUP = re.compile(r"[*_#`>|~]+")


def speakable(text: str) -> str:
    """Text as it should be spoken: no markdown symbols, single spaces."""
    return " ".join(_MARKUP.sub(" ", text).split())


class TextChunker:
    def __init__(self, first_chunk_words: int = 3, first_max_words: int = 0) -> None:
        self._first_words = first_chunk_words
        self._first_max = first_max_words  # 0: the first piece waits for punctuation
        self._buffer = ""
        self._emitted = 0
        self._pushed = 0  # characters pushed so far

    def push(self, text: str) -> list[str]:
        self._buffer += text
        self._pushed += len(text)
        out: list[str] = []
        while True:
            cut = self._find_cut()
            if cut is None:
                return out
            piece, self._buffer = self._buffer[:cut], self._buffer[cut:]
            piece = speakable(piece)
            if piece:
                out.append(piece)
                self._emitted += 1

    def flush(self) -> list[str]:
        piece, self._buffer = speakable(self._buffer), ""
        return [piece] if piece else []

    def drop_after(self, index: int) -> int:
        """Forget what was pushed after character `index` (counted over all pushes) and
        has not gone out yet; returns where the text now ends (what is out stays out)."""
        out = self._pushed - len(self._buffer)
        end = max(index, out)
        self._buffer = self._buffer[: end - out]
        self._pushed = end
        return end

    def _find_cut(self) -> int | None:
        buf = self._buffer
        # A boundary is punctuation followed by whitespace: "3.5" and "e.g" are not cut.
        for i in range(len(buf) - 1):
            ch = buf[i]
            if not buf[i + 1].isspace():
                continue
            words = len(buf[: i + 1].split())
            if ch in _SENTENCE_END and words >= 2:
                return i + 1
            if ch in _CLAUSE_END:
                if self._emitted == 0 and words >= self._first_words:
                    return i + 1
                if words >= _LONG_WORDS:
                    return i + 1
        if self._emitted == 0 and self._first_max > 0:
            return _word_cut(buf, self._first_max)
        return _word_cut(buf, _MAX_WORDS)


def _word_cut(buf: str, max_words: int) -> int | None:
    """After `max_words` words when no punctuation came: TTS memory grows with the length
    of one piece (a 160-token run-on answer took ~900 MB in Piper's ONNX arena)."""
    for count, match in enumerate(re.finditer(r"\S+\s", buf), start=1):
        if count >= max_words:
            return match.end()
    return None

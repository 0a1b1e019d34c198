"""Splits streamed LLM text into pieces worth synthesising.

The first piece goes out at the first clause boundary once it has a few
words, or after `first_max_words` words when no punctuation has come (time to
first audio matters most: waiting for the end of "A lemon is a classic example
of a yellow fruit." cost ~100 ms of LLM tokens and longer synthesis); later
pieces at sentence ends, or at clause ends once a sentence gets long.

Piper's working memory grows with the length of the piece it synthesises (~17 MiB
per second of audio, docs/benchmark.md), so a long sentence is cut: at a comma once
it has `_CLAUSE_WORDS` words, else before a conjunction ("and", "because", …) once it
has `_SOFT_WORDS`, else at its last comma or conjunction (`_MIN_CLAUSE_WORDS` in at
least), else after `_MAX_WORDS` words (before a number that would go over). Cuts at
clause boundaries keep the voice from pausing mid-phrase. Words are counted as they
are said: a number's digits count one each ("The Moon is about 384,400 kilometres
(238,855 miles) away." is 9 words but 7.3 s of audio, +118 MiB in Piper).
"""

from __future__ import annotations

import re

_SENTENCE_END = ".!?"
_CLAUSE_END = ",;:—"
_CLAUSE_WORDS = 10  # a comma this far into a piece ends it
_SOFT_WORDS = 10  # from here a piece ends before a conjunction
_MAX_WORDS = 16  # a piece never longer, punctuation or not
_MIN_CLAUSE_WORDS = 4  # at the cap, an earlier boundary ends the piece if this far in
# Words that open a clause: cutting before them sounds like a breath, not a stumble.
_CLAUSE_OPENERS = frozenset(
    {
        *("and", "but", "or", "so", "because", "which", "who", "whom", "whose", "while"),
        *("when", "whenever", "where", "although", "though", "then", "if", "unless"),
        *("until", "since", "whereas"),
    }
)
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
                if spoken_words(buf[: i + 1]) >= _CLAUSE_WORDS:
                    return i + 1
        if self._emitted == 0 and self._first_max > 0:
            return _word_cut(buf, self._first_max)
        return _long_cut(buf)


def _word_cut(buf: str, max_words: int) -> int | None:
    """After `max_words` words when no punctuation came."""
    for count, match in enumerate(re.finditer(r"\S+\s", buf), start=1):
        if count >= max_words:
            return match.end()
    return None


def _long_cut(buf: str) -> int | None:
    """Where a long piece without a sentence end is cut (see the module docstring):
    TTS memory grows with the length of one piece (a 25-word piece took ~130 MiB
    in Piper, a 160-token run-on answer ~900 MB with ONNX's arena)."""
    words = list(re.finditer(r"\S+\s", buf))  # complete words only
    spoken = 0
    for k, word in enumerate(words):
        if spoken >= _SOFT_WORDS and _opens_clause(word.group()):
            return words[k - 1].end()  # before the conjunction
        spoken += spoken_words(word.group())
        if spoken < _MAX_WORDS:
            continue
        for j in range(k, _MIN_CLAUSE_WORDS - 1, -1):  # the last boundary in this piece
            if words[j - 1].group().rstrip()[-1] in _CLAUSE_END or _opens_clause(words[j].group()):
                return words[j - 1].end()
        if spoken > _MAX_WORDS and k > 0:  # a long number went over: it starts the next piece
            return words[k - 1].end()
        return word.end()
    return None


def spoken_words(text: str) -> int:
    """About how many words `text` takes to say: a number is said digit group by digit
    group ("384,400" is seven words), so each of its digits counts as one."""
    return sum(max(1, sum(ch.isdigit() for ch in token)) for token in text.split())


def _opens_clause(word: str) -> bool:
    return word.strip().lower() in _CLAUSE_OPENERS

"""Word vectors: how close two words are in meaning ("puppy" and "dog", "sunscreen" and
"uv"), for the tool matcher's words that no tool shares by its letters.

GloVe 6B 50d (Wikipedia + Gigaword, public domain), pruned at setup time to its most
frequent plain words and stored as int8 rows with one scale each
(`word_vectors_derive.py`, `scripts/fetch-word-vectors`): about 5 MiB resident, a
look-up in microseconds. Loaded once per process; a missing file is one log line and
the matcher works by its words alone, as before.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import numpy as np
import numpy.typing as npt

from rtvi_edge.models.catalogue import default_models_dir

log = logging.getLogger(__name__)

ENV = "RTVI_EDGE_WORD_VECTORS"  # a path overrides where the file is looked for
FILENAME = "glove-6b-50d-top.npz"
MAX_LEN = 16  # longer words are left out (their bytes would widen every entry)


def default_path() -> Path:
    override = os.environ.get(ENV, "")
    return Path(override) if override else default_models_dir() / "word-vectors" / FILENAME


class WordVectors:
    """Unit vectors by word: `words` sorted (bytes), `rows` int8 with `scales`."""

    def __init__(
        self,
        words: npt.NDArray[np.bytes_],
        rows: npt.NDArray[np.int8],
        scales: npt.NDArray[np.float32],
        ranks: npt.NDArray[np.int32],
    ) -> None:
        self._words = words
        self._rows = rows
        self._scales = scales
        self._ranks = ranks
        self._cache: dict[str, npt.NDArray[np.float32] | None] = {}
        self._matrices: dict[tuple[str, ...], tuple[list[str], npt.NDArray[np.float32]]] = {}

    @classmethod
    def load(cls, path: Path) -> WordVectors:
        with np.load(path) as data:
            return cls(data["words"], data["rows"], data["scales"], data["ranks"])

    def __len__(self) -> int:
        return len(self._words)

    def _index(self, word: str) -> int | None:
        key = word.encode("utf-8", "ignore")
        at = int(np.searchsorted(self._words, key))
        ok = len(key) <= MAX_LEN and at < len(self._words) and self._words[at] == key
        return at if ok else None

    def rank(self, word: str) -> int | None:
        """The word's place by frequency in the corpus (0 is "the"); None: unknown."""
        at = self._index(word)
        return None if at is None else int(self._ranks[at])

    def vector(self, word: str) -> npt.NDArray[np.float32] | None:
        """The unit vector of a lower-case word, or None when it is not known."""
        if word in self._cache:
            return self._cache[word]
        at = self._index(word)
        found = None
        if at is not None:
            v = self._rows[at].astype(np.float32) * self._scales[at]
            found = v / max(float(np.linalg.norm(v)), 1e-9)
        if len(self._cache) < 4096:  # the words of recent requests and of the tools
            self._cache[word] = found
        return found

    def similarity(self, a: str, b: str) -> float:
        """Cosine of the two words' vectors; 0.0 when either is unknown."""
        va, vb = self.vector(a), self.vector(b)
        if va is None or vb is None:
            return 0.0
        return float(va @ vb)

    def closest(self, word: str, targets: tuple[str, ...]) -> tuple[str, float]:
        """The target nearest in meaning to `word`, and its cosine ("", 0.0: none known)."""
        v = self.vector(word)
        known, matrix = self._matrix(targets)
        if v is None or not known:
            return "", 0.0
        sims = matrix @ v
        best = int(np.argmax(sims))
        return known[best], float(sims[best])

    def _matrix(self, targets: tuple[str, ...]) -> tuple[list[str], npt.NDArray[np.float32]]:
        """One matrix per tool's words, kept: a request compares with it in one product."""
        got = self._matrices.get(targets)
        if got is None:
            pairs = [(t, v) for t in targets if (v := self.vector(t)) is not None]
            rows = np.stack([v for _, v in pairs]) if pairs else np.zeros((0, 1), np.float32)
            got = ([t for t, _ in pairs], rows)
            if len(self._matrices) < 1024:
                self._matrices[targets] = got
        return got


_LOCK = threading.Lock()
_LOADED: dict[str, WordVectors | None] = {}


def shared() -> WordVectors | None:
    """The process's word vectors, loaded on first use; None (logged once) when absent."""
    path = default_path()
    key = str(path)
    with _LOCK:
        if key not in _LOADED:
            try:
                _LOADED[key] = WordVectors.load(path)
                log.info("word vectors: %d words from %s", len(_LOADED[key] or ()), path)
            except (OSError, KeyError, ValueError) as exc:
                _LOADED[key] = None
                log.warning(
                    "word vectors unavailable (%s: %s): tools are matched by their words "
                    "alone; scripts/fetch-word-vectors installs them",
                    path,
                    exc.__class__.__name__,
                )
        return _LOADED[key]

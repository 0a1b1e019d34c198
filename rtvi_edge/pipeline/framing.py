"""Where speech begins and ends inside a buffer, to 10 ms, from its loudness.

The VAD decides in 32 ms frames whose grid depends on how much audio came
before; Whisper hears a different first syllable when the cut moves by a frame.
The listener therefore cuts the audio it hands to the STT at these sample
positions (with fixed margins), so the same speech is framed the same way
whatever preceded it.
"""

from __future__ import annotations

import numpy as np

RATE = 16000
BLOCK = RATE // 100  # 10 ms
FLOOR_DBFS = -50.0  # never quieter than this counts as speech
ABOVE_NOISE_DB = 12.0  # and it must stand this far above the buffer's quiet part
MAX_GAP_BLOCKS = 15  # a quieter stretch this short stays inside the phrase


def _levels(pcm: bytes) -> np.ndarray:
    audio = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype=np.int16).astype(np.float32)
    n = audio.size // BLOCK
    if n == 0:
        return np.zeros(0, dtype=np.float32)
    rms = np.sqrt(np.mean(audio[: n * BLOCK].reshape(n, BLOCK) ** 2, axis=1))
    return np.asarray(20 * np.log10(np.maximum(rms, 1.0) / 32768.0), dtype=np.float32)


def _threshold_db(levels: np.ndarray) -> float:
    noise = float(np.percentile(levels, 10)) if levels.size else FLOOR_DBFS
    return max(FLOOR_DBFS, noise + ABOVE_NOISE_DB)


def _samples(pcm: bytes) -> np.ndarray:
    return np.abs(np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype=np.int16).astype(np.int32))


def _amplitude(threshold_db: float) -> float:
    """A sample this large: a 10 ms block at `threshold_db` RMS peaks well above it."""
    return 32768.0 * 10 ** (threshold_db / 20)


def onset_sample(pcm: bytes) -> int | None:
    """Start of the loud stretch that reaches the end of `pcm` (gaps under 150 ms
    bridged), to the sample; None if the end of `pcm` is not loud.

    Blocks find the stretch; the first sample over the threshold amplitude in
    the block before it and its first block fixes the start, so that the answer
    moves with the audio, not with the 10 ms grid."""
    levels = _levels(pcm)
    threshold = _threshold_db(levels)
    idx = np.nonzero(levels > threshold)[0]
    if idx.size == 0 or idx[-1] < levels.size - MAX_GAP_BLOCKS:
        return None
    start = int(idx[-1])
    for i in idx[::-1]:
        if start - int(i) > MAX_GAP_BLOCKS:
            break
        start = int(i)
    lo = max(0, start - 1) * BLOCK
    over = np.nonzero(_samples(pcm[lo * 2 : (start + 1) * BLOCK * 2]) >= _amplitude(threshold))[0]
    return lo + int(over[0]) if over.size else start * BLOCK


def end_sample(pcm: bytes) -> int | None:
    """End of the speech in `pcm` (just after its last sample over the threshold
    amplitude, near the last loud 10 ms block), to the sample; None if none is loud."""
    levels = _levels(pcm)
    threshold = _threshold_db(levels)
    idx = np.nonzero(levels > threshold)[0]
    if idx.size == 0:
        return None
    last = int(idx[-1])
    lo, hi = last * BLOCK, min(len(pcm) // 2, (last + 2) * BLOCK)
    over = np.nonzero(_samples(pcm[lo * 2 : hi * 2]) >= _amplitude(threshold))[0]
    return lo + int(over[-1]) + 1 if over.size else (last + 1) * BLOCK

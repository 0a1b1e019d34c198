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
SEARCH_BLOCKS = 20  # samples are searched this far around the loud blocks
GAP_SAMPLES = 480  # 30 ms without a sample over the threshold: outside the speech


def _levels(pcm: bytes) -> np.ndarray:
    audio = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype=np.int16).astype(np.float32)
    n = audio.size // BLOCK
    if n == 0:
        return np.zeros(0, dtype=np.float32)
    rms = np.sqrt(np.mean(audio[: n * BLOCK].reshape(n, BLOCK) ** 2, axis=1))
    return np.asarray(20 * np.log10(np.maximum(rms, 1.0) / 32768.0), dtype=np.float32)


def _threshold_db(levels: np.ndarray) -> float:
    noise = float(np.percentile(levels, 10)) if levels.size else FLOOR_DBFS
    # In 3 dB steps: the noise estimate wobbles with the block grid, the threshold must not.
    return max(FLOOR_DBFS, 3.0 * round((noise + ABOVE_NOISE_DB) / 3.0))


def _over(pcm: bytes, lo: int, hi: int, threshold_db: float) -> np.ndarray:
    """Sample positions in [lo, hi) whose amplitude is over the threshold."""
    audio = np.frombuffer(pcm[lo * 2 : hi * 2], dtype=np.int16).astype(np.int32)
    return np.nonzero(np.abs(audio) >= 32768.0 * 10 ** (threshold_db / 20))[0] + lo


def onset_sample(pcm: bytes) -> int | None:
    """Start of the loud stretch that reaches the end of `pcm` (gaps under 150 ms
    bridged), to the sample; None if the end of `pcm` is not loud.

    Blocks find the stretch; then, to the sample, its first sample over the
    threshold amplitude that no such sample precedes by less than GAP_SAMPLES:
    the answer moves with the audio, not with the 10 ms grid."""
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
    over = _over(pcm, max(0, start - SEARCH_BLOCKS) * BLOCK, (start + 1) * BLOCK, threshold)
    if over.size == 0:
        return start * BLOCK
    gaps = np.nonzero(np.diff(over) > GAP_SAMPLES)[0]
    return int(over[gaps[-1] + 1]) if gaps.size else int(over[0])


def end_sample(pcm: bytes) -> int | None:
    """End of the speech in `pcm`, to the sample: just after the last sample over the
    threshold amplitude that follows the last loud 10 ms block without a gap of
    GAP_SAMPLES; None if no block is loud."""
    levels = _levels(pcm)
    threshold = _threshold_db(levels)
    idx = np.nonzero(levels > threshold)[0]
    if idx.size == 0:
        return None
    last = int(idx[-1])
    hi = min(len(pcm) // 2, (last + SEARCH_BLOCKS) * BLOCK)
    over = _over(pcm, last * BLOCK, hi, threshold)
    in_last = over[over < (last + 1) * BLOCK]
    if in_last.size == 0:
        return (last + 1) * BLOCK
    # From the last loud sample of the last loud block on, to the first gap.
    after = over[over >= in_last[-1]]
    gaps = np.nonzero(np.diff(after) > GAP_SAMPLES)[0]
    return int(after[gaps[0]] if gaps.size else after[-1]) + 1

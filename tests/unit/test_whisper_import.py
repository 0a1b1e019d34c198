"""The stand-in for faster_whisper.audio (rtvi_edge/engines/whisper_import.py) does what
faster-whisper's own module does, PyAV aside."""

from __future__ import annotations

import numpy as np
import pytest

from rtvi_edge.engines import whisper_import


@pytest.mark.parametrize(
    ("shape", "length", "axis"),
    [((80, 3000), 3000, -1), ((80, 1234), 3000, -1), ((80, 4567), 3000, -1), ((5, 7), 3, 0)],
)
def test_pad_or_trim_is_faster_whispers_own(shape: tuple[int, int], length: int, axis: int) -> None:
    real = whisper_import._real_audio()  # the real module, PyAV and all
    array = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    mine = whisper_import.pad_or_trim(array, length, axis=axis)
    theirs = real.pad_or_trim(array, length, axis=axis)
    assert mine.shape == theirs.shape and mine.dtype == theirs.dtype
    assert np.array_equal(mine, theirs)


def test_faster_whisper_uses_the_stand_in_or_its_own() -> None:
    fw = whisper_import.import_faster_whisper()
    from faster_whisper import transcribe

    assert transcribe.pad_or_trim in (whisper_import.pad_or_trim, fw.audio.pad_or_trim)
    assert callable(fw.decode_audio)

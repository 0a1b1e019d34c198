"""faster-whisper imported without PyAV (issue 25: ~19 MiB resident that a turn never uses).

faster-whisper's `__init__` and `transcribe` import `faster_whisper.audio`, and that
module imports PyAV (`av`, FFmpeg's libraries) only for `decode_audio`, which reads
audio files. The daemon hands Whisper numpy arrays, so before faster_whisper's first
import a stand-in for `faster_whisper.audio` is registered: faster-whisper's own
`pad_or_trim` (copied from 1.2.1; tests/unit/test_whisper_import.py checks it against
the real one, so an upgrade that changes it fails there), and a `decode_audio` that loads
the real module, PyAV with it, the first time something asks to decode a file.

A lazily loaded `av` in sys.modules would not do: the next `import av` (aiortc's, at the
first WebRTC offer) reads its `__spec__` and loads it all. When faster_whisper or its
`audio` module is imported already (a test, a tool), nothing is replaced.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
import types
from typing import Any

import numpy as np

_lock = threading.Lock()
_real: types.ModuleType | None = None


def import_faster_whisper() -> types.ModuleType:
    """faster_whisper, its `audio` module the stand-in unless it was imported before."""
    with _lock:
        if "faster_whisper" not in sys.modules and "faster_whisper.audio" not in sys.modules:
            sys.modules["faster_whisper.audio"] = _stand_in()
        import faster_whisper  # noqa: F401

        package = sys.modules["faster_whisper"]
        if not hasattr(package, "audio"):  # a preset module is not set on its package
            package.audio = sys.modules["faster_whisper.audio"]  # type: ignore[attr-defined]
        return package


def pad_or_trim(array: Any, length: int = 3000, *, axis: int = -1) -> Any:
    """Pad or trim the Mel features array to 3000, as expected by the encoder.
    (faster_whisper/audio.py 1.2.1's, unchanged.)"""
    if array.shape[axis] > length:
        array = array.take(indices=range(length), axis=axis)

    if array.shape[axis] < length:
        pad_widths = [(0, 0)] * array.ndim
        pad_widths[axis] = (0, length - array.shape[axis])
        array = np.pad(array, pad_widths)

    return array


def decode_audio(*args: Any, **kwargs: Any) -> Any:
    """faster-whisper's own decode_audio (a file to samples), PyAV loaded for it now."""
    return _real_audio().decode_audio(*args, **kwargs)


def _real_audio() -> types.ModuleType:
    global _real
    with _lock:
        if _real is None:
            spec = importlib.util.find_spec("faster_whisper")
            assert spec is not None and spec.submodule_search_locations
            path = f"{next(iter(spec.submodule_search_locations))}/audio.py"
            real_spec = importlib.util.spec_from_file_location("faster_whisper._audio_av", path)
            assert real_spec is not None and real_spec.loader is not None
            module = importlib.util.module_from_spec(real_spec)
            real_spec.loader.exec_module(module)
            _real = module
        return _real


def _stand_in() -> types.ModuleType:
    module = types.ModuleType("faster_whisper.audio", "faster-whisper's audio without PyAV")
    module.pad_or_trim = pad_or_trim  # type: ignore[attr-defined]
    module.decode_audio = decode_audio  # type: ignore[attr-defined]
    module.__file__ = __file__
    return module

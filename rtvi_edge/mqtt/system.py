"""Periodic system metrics: CPU, memory, load and the board's temperature."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import psutil

# Sensors that read the SoC/CPU die, best first: Raspberry Pi, Jetson, Intel, AMD.
_PREFERRED = ("cpu_thermal", "soc_thermal", "cpu-thermal", "coretemp", "k10temp", "zenpower")
_THERMAL_ZONE = Path("/sys/class/thermal/thermal_zone0/temp")


class SystemSampler:
    def __init__(self) -> None:
        self._proc = psutil.Process(os.getpid())
        # psutil's CPU percentages are "since the last call": prime them.
        psutil.cpu_percent(None)
        self._proc.cpu_percent(None)

    def sample(self) -> dict[str, Any]:
        """Blocking (reads /proc and /sys): call it off the event loop."""
        data: dict[str, Any] = {
            "cpu_percent": psutil.cpu_percent(None),
            "process_cpu_percent": self._proc.cpu_percent(None),
            "rss_mb": round(self._proc.memory_info().rss / 2**20, 1),
            "memory_percent": psutil.virtual_memory().percent,
            "load_1m": round(os.getloadavg()[0], 2),
        }
        temperature = read_temperature()
        if temperature is not None:
            data["temperature_c"] = temperature
        return data


def read_temperature() -> float | None:
    """°C from psutil's sensors, else thermal_zone0; None where the board has neither."""
    read = getattr(psutil, "sensors_temperatures", None)  # Linux/FreeBSD only
    try:
        sensors = read() if read is not None else {}
    except (OSError, RuntimeError):
        sensors = {}
    for name in (*_PREFERRED, *sensors):
        readings = sensors.get(name)
        if readings:
            return round(float(readings[0].current), 1)
    try:
        return round(int(_THERMAL_ZONE.read_text().strip()) / 1000, 1)
    except (OSError, ValueError):
        return None

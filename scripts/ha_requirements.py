"""Prints the Python requirements of the Home Assistant integrations the real-HA tests
load, and of everything they depend on, one a line: scripts/setup-home-assistant
installs them into .ha-venv (Home Assistant installs them at run time otherwise,
which the tests turn off). Run by .ha-venv's Python: `python ha_requirements.py`.

HA's own `package_constraints.txt` pins the versions; this only finds the names, the
way HA's loader walks `dependencies` in each integration's manifest.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

# What the tests use; HA's bootstrap adds those it always loads (DEFAULT_INTEGRATIONS...).
WANTED = (
    "esphome", "wyoming", "assist_satellite", "assist_pipeline", "zeroconf", "bluetooth",
    "ffmpeg", "stt", "tts", "conversation", "wake_word", "intent", "onboarding", "config",
    "api", "websocket_api", "http", "auth", "media_source", "media_player", "homeassistant",
    "persistent_notification", "logger", "network", "system_log",
)  # fmt: skip


def requirements(components: Path, wanted: tuple[str, ...]) -> list[str]:
    seen: set[str] = set()
    found: set[str] = set()
    todo = list(wanted)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        manifest = components / name / "manifest.json"
        if not manifest.is_file():
            continue
        data = json.loads(manifest.read_text())
        found.update(data.get("requirements", []))
        todo.extend(data.get("dependencies", []))
    return sorted(found)


def main() -> None:
    import homeassistant.components
    from homeassistant import bootstrap

    components = Path(homeassistant.components.__file__).parent
    wanted = (*WANTED, *bootstrap.DEFAULT_INTEGRATIONS, *bootstrap.CORE_INTEGRATIONS)
    print("\n".join(requirements(components, wanted)))


if __name__ == "__main__":
    sys.exit(main())

"""Runs a real Home Assistant for the tests, as `hass --skip-pip -c CONFIG_DIR` does,
with one change: its zeroconf listens on 127.0.0.1 only (HA leaves loopback out), so
discovery is tested without touching the machine's network. Run by .ha-venv's Python
(3.13+), not by pytest: `python ha_launch.py CONFIG_DIR`. tests/integration/ha_instance.py
writes the configuration and drives it over its REST and websocket APIs.
"""

from __future__ import annotations

import sys
from typing import Any


def loopback_only() -> None:
    from homeassistant.components import zeroconf
    from zeroconf import IPVersion

    def zc_args(hass: Any) -> dict[str, Any]:
        return {"ip_version": IPVersion.V4Only, "interfaces": ["127.0.0.1"]}

    zeroconf._async_get_zc_args = zc_args


def main(config_dir: str) -> int:
    from homeassistant import runner

    loopback_only()
    config = runner.RuntimeConfig(
        config_dir=config_dir, skip_pip=True, recovery_mode=False, log_no_color=True
    )
    return runner.run(config)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))

"""Drives a real Home Assistant against the device; run by test_homeassistant_real.py
under the Python that has `homeassistant` installed (3.13+), not under pytest.

Usage: python ha_driver.py DEVICE_PORT CONFIG_DIR HTTP_PORT [wait | ANNOUNCE_URL]
Prints one line `RESULT {json}` with what Home Assistant saw and did. With `wait`
it only adds the device, prints `READY` and waits for a line on stdin (the test
talks to the device meanwhile) before it stops; with a URL it also announces it
(Home Assistant converts it with ffmpeg for the device, as it does for every one).
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

CONFIG = """
homeassistant:
  name: e2e
  latitude: 0
  longitude: 0
  elevation: 0
  unit_system: metric
  time_zone: UTC
  internal_url: "http://127.0.0.1:{http_port}"
http:
  server_host: 127.0.0.1
  server_port: {http_port}
logger:
  default: warning
  logs:
    homeassistant.components.esphome: debug
    homeassistant.components.assist_pipeline: debug
"""


async def wait_for(check: Any, secs: float = 30) -> None:
    for _ in range(int(secs * 10)):
        if check():
            return
        await asyncio.sleep(0.1)


async def drive(
    port: int, config_dir: Path, http_port: int, wait: bool, announce: str
) -> dict[str, Any]:
    from homeassistant import bootstrap, runner
    from homeassistant.helpers import device_registry as dr
    from homeassistant.helpers import intent

    (config_dir / "configuration.yaml").write_text(CONFIG.format(http_port=http_port))
    rc = runner.RuntimeConfig(config_dir=str(config_dir), skip_pip=True, recovery_mode=False)
    hass = await bootstrap.async_setup_hass(rc)
    assert hass is not None
    await hass.async_start()
    out: dict[str, Any] = {}
    try:
        flow = await hass.config_entries.flow.async_init(
            "esphome", context={"source": "user"}, data={"host": "127.0.0.1", "port": port}
        )
        out["flow"] = str(flow.get("type"))
        # The satellite's configuration (its wake words) arrives after the entities.
        await wait_for(
            lambda: (
                hass.states.async_entity_ids("assist_satellite")
                and any(
                    hass.states.get(e).attributes.get("options")
                    for e in hass.states.async_entity_ids("select")
                    if "wake" in e
                )
            )
        )
        ids = sorted(hass.states.async_entity_ids())
        out["states"] = {e: hass.states.get(e).state for e in ids}
        if wait:
            print("READY", flush=True)
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
            return out
        (sat,) = hass.states.async_entity_ids("assist_satellite")
        out["satellite_features"] = hass.states.get(sat).attributes.get("supported_features")
        (switch,) = hass.states.async_entity_ids("switch")
        await hass.services.async_call("switch", "turn_on", {"entity_id": switch}, blocking=True)
        (player,) = hass.states.async_entity_ids("media_player")
        await hass.services.async_call(
            "media_player", "volume_set", {"entity_id": player, "volume_level": 0.4}, blocking=True
        )
        wake = next(e for e in hass.states.async_entity_ids("select") if "wake" in e)
        out["wake_words"] = hass.states.get(wake).attributes.get("options")
        jarvis = next(o for o in out["wake_words"] if "jarvis" in o.lower())
        await hass.services.async_call(
            "select", "select_option", {"entity_id": wake, "option": jarvis}, blocking=True
        )
        # a timer set by voice in HA (the intent, as a sentence would give it) on this device
        entry = hass.config_entries.async_entries("esphome")[0]
        (device,) = dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)
        await intent.async_handle(
            hass, "e2e", "HassStartTimer", {"seconds": {"value": 1}}, device_id=device.id
        )
        await asyncio.sleep(4)
        if announce:
            await hass.services.async_call(
                "assist_satellite",
                "announce",
                {"entity_id": sat, "media_id": announce, "preannounce": False},
                blocking=True,
            )
            out["announced"] = True
        out["device"] = {"name": device.name, "connections": sorted(map(list, device.connections))}
    finally:
        print("RESULT " + json.dumps(out, default=str), flush=True)
        await hass.async_stop()
    return out


if __name__ == "__main__":
    extra = sys.argv[4] if len(sys.argv) > 4 else ""
    wait, announce = extra == "wait", extra if extra.startswith("http") else ""
    asyncio.run(drive(int(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), wait, announce))

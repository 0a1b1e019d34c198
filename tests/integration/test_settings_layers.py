"""Runtime changes survive a reload and a restart: a mute over MQTT (a real mosquitto)
and a volume from Home Assistant (its ESPHome API client), then `systemctl reload`
(the daemon re-reads its file) and a restart. Fake engines: the settings are the point."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aioesphomeapi import APIClient

from rtvi_edge.config import load_config_file
from rtvi_edge.daemon import Daemon
from tests.fakes import fake_engines
from tests.helpers import toml_text as toml
from tests.integration.daemon_harness import RecordingNotifier, daemon_config
from tests.integration.mosquitto import Mosquitto
from tests.integration.mqtt_watcher import Watcher

pytestmark = pytest.mark.integration
BASE = "rtvi-edge/test-device"


async def test_a_reload_and_a_restart_keep_the_mute_from_mqtt_and_the_volume_from_ha(
    tmp_path: Path,
) -> None:
    broker = Mosquitto(tmp_path)
    broker.start()
    watcher = Watcher(broker.port)
    path = tmp_path / "config.toml"

    def write_config(temperature: float) -> None:
        path.write_text(
            toml(
                daemon_config(
                    tmp_path / "state",
                    mqtt={"enabled": True, "host": "127.0.0.1", "port": broker.port},
                    homeassistant={"satellite": True, "host": "127.0.0.1", "port": 0,
                                   "zeroconf": False},
                    llm={"temperature": temperature},
                )
            )
        )  # fmt: skip

    def daemon() -> Daemon:
        return Daemon(load_config_file(path), path, RecordingNotifier(), engines=fake_engines())

    write_config(0.3)
    first = daemon()
    try:
        await first.start()
        await asyncio.wait_for(first.mqtt.connected.wait(), 20)  # subscribed: commands arrive
        await watcher.publish(f"{BASE}/mute/set", "ON")
        await watcher.wait(f"{BASE}/mute", lambda p: p == "ON")
        ha = APIClient("127.0.0.1", first.homeassistant.port, None)
        await ha.connect(login=True)
        ha.media_player_command(1, volume=0.3)  # the media player's volume slider
        await watcher.wait(f"{BASE}/volume", lambda p: p == "30")  # MQTT hears of it too
        await ha.disconnect()

        write_config(0.6)  # the file changes, then `systemctl reload`
        await first.reload()
        local = first.local
        assert local is not None
        assert local.settings.temperature == pytest.approx(0.6)  # the file applied ...
        assert local.muted and local.volume == pytest.approx(0.3)  # ... under the user's
    finally:
        await first.stop()
    second = daemon()
    try:
        await second.start()
        assert second.local is not None
        assert second.local.muted and second.local.volume == pytest.approx(0.3)
    finally:
        await second.stop()
        watcher.close()
        broker.stop()

"""A reload reaches every running part without a restart: the RTVI server, the MQTT
bridge, the Home Assistant satellite, the tools (of live conversations too) and the
log; a restart-only setting is kept as it runs, with one log line that says so.
The daemon over fake engines, its config file rewritten and reloaded (SIGHUP's path)."""

from __future__ import annotations

import dataclasses
import logging
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from rtvi_edge.config import Config, LogLevel
from rtvi_edge.daemon import Daemon
from rtvi_edge.services.restart_only import RESTART_ONLY, running, waiting_for_restart
from rtvi_edge.services.settings_owner import SettingsOwner, runtime_keys
from tests.fakes import fake_engines
from tests.helpers import toml_text
from tests.integration.daemon_harness import daemon_config, running_daemon

PORCH = "porch light = home/porch/set"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@asynccontextmanager
async def daemon_with(tmp_path: Path, **sections: dict[str, Any]) -> AsyncIterator[Daemon]:
    async with running_daemon(tmp_path / "state", fake_engines(), **sections) as daemon:
        daemon.config_path = tmp_path / "config.toml"
        yield daemon


async def reload(daemon: Daemon, tmp_path: Path, **sections: dict[str, Any]) -> None:
    """The file changed, then `systemctl reload`."""
    assert daemon.config_path is not None
    daemon.config_path.write_text(toml_text(daemon_config(tmp_path / "state", **sections)))
    await daemon.reload()


async def test_the_rtvi_server_takes_new_limits_origins_and_token(tmp_path: Path) -> None:
    async with daemon_with(tmp_path) as daemon, aiohttp.ClientSession() as http:
        origin = "http://panel.example"
        url = f"http://127.0.0.1:{daemon.rtvi.port}/health"
        before = await http.get(url, headers={"Origin": origin})
        assert "Access-Control-Allow-Origin" not in before.headers
        rtvi = {"max_sessions": 1, "allowed_origins": [origin], "token": "new-token"}
        await reload(daemon, tmp_path, rtvi=rtvi)
        after = await http.get(url, headers={"Origin": origin})
        assert after.headers["Access-Control-Allow-Origin"] == origin  # no restart
        assert daemon.rtvi.hub.slots.max_sessions == 1
        assert daemon.rtvi.policy.token_ok("new-token")


async def test_a_new_port_waits_for_a_restart_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with daemon_with(tmp_path) as daemon:
        port = daemon.rtvi.port
        with caplog.at_level(logging.WARNING, "rtvi_edge.services.settings_owner"):
            await reload(daemon, tmp_path, rtvi={"port": free_port(), "max_sessions": 2})
        lines = [r.getMessage() for r in caplog.records if "restart is needed" in r.message]
        assert len(lines) == 1 and "[rtvi] port" in lines[0], lines
        assert daemon.rtvi.config.port == 0 and daemon.rtvi.port == port  # as it runs
        assert daemon.rtvi.config.max_sessions == 2  # the rest of the section applied
        assert daemon.config.rtvi.port != 0  # the owner holds what the file says


async def test_the_mqtt_bridge_takes_a_new_metrics_interval_not_a_new_broker(
    tmp_path: Path,
) -> None:
    mqtt = {"enabled": True, "host": "127.0.0.1", "port": free_port()}  # nobody there
    async with daemon_with(tmp_path, mqtt=mqtt) as daemon:
        moved = {**mqtt, "metrics_interval_secs": 5.0, "host": "broker.example"}
        await reload(daemon, tmp_path, mqtt=moved)
        assert daemon.mqtt.config.metrics_interval_secs == 5.0
        assert daemon.mqtt.config.host == "127.0.0.1"  # restart-only: still the one in use


async def test_the_home_assistant_satellite_takes_its_new_settings(tmp_path: Path) -> None:
    ha = {"satellite": True, "host": "127.0.0.1", "port": 0, "zeroconf": False}
    async with daemon_with(tmp_path, homeassistant=ha) as daemon:
        changed = {**ha, "max_listen_secs": 20.0, "base_url": "http://ha.local:8123"}
        await reload(daemon, tmp_path, homeassistant=changed)
        satellite = daemon.homeassistant.satellite
        assert satellite.cfg.max_listen_secs == 20.0
        assert satellite._base_url() == "http://ha.local:8123"


async def test_the_tools_of_a_live_conversation_take_the_new_devices(tmp_path: Path) -> None:
    async with daemon_with(tmp_path) as daemon:
        local = daemon.local
        assert local is not None and local.tools is not None
        assert local.tools.intents is not None
        unknown = local.tools.intents.match("turn on the porch light")
        assert unknown is not None and not unknown.intent.tool  # "no such device"
        await reload(daemon, tmp_path, tools={"devices": [PORCH], "llm_tools": False})
        match = local.tools.intents.match("turn on the porch light")
        assert match is not None and match.intent.tool
        assert local.tools.runner.find(match.intent.tool) is not None
        assert not local.tools.llm_tools


async def test_a_tool_setting_it_cannot_use_refuses_the_reload(tmp_path: Path) -> None:
    async with daemon_with(tmp_path) as daemon:
        await reload(daemon, tmp_path, tools={"devices": ["no topic"]}, llm={"temperature": 0.9})
        assert daemon.config.tools.devices == ()  # nothing changed, the engines neither
        assert daemon.config.llm.temperature == Config().llm.temperature
        assert any("reload refused" in s for s in daemon.notifier.sent)  # type: ignore[attr-defined]


async def test_the_log_level_changes_on_reload(tmp_path: Path) -> None:
    root = logging.getLogger()
    level = root.level
    try:
        async with daemon_with(tmp_path) as daemon:
            await reload(daemon, tmp_path, log={"level": "debug"})
            assert root.level == logging.DEBUG
    finally:
        root.setLevel(level)


async def test_a_follower_hears_only_of_its_own_part(tmp_path: Path) -> None:
    owner = SettingsOwner(Config(), tmp_path)
    heard: list[LogLevel] = []
    owner.follow(lambda c: c.log.level, heard.append)
    await owner.reload(dataclasses.replace(Config(), llm=dataclasses.replace(Config().llm)))
    assert heard == []
    await owner.reload(Config(log=dataclasses.replace(Config().log, level=LogLevel.DEBUG)))
    assert heard == [LogLevel.DEBUG]


def test_every_restart_only_setting_exists_and_is_pinned() -> None:
    fields = {f.name: f for f in dataclasses.fields(Config)}
    for rule in RESTART_ONLY:
        assert rule.section in fields
        names = {f.name for f in dataclasses.fields(getattr(Config(), rule.section))}
        assert rule.keys == "*" or set(rule.keys.split()) <= names, rule
    # What a user changes at run time always takes effect at once.
    assert not [
        k for k in runtime_keys() for r in RESTART_ONLY if r.section == k[0] and r.covers(k[1])
    ]
    started = Config()
    moved = dataclasses.replace(
        started, rtvi=dataclasses.replace(started.rtvi, port=9, max_sessions=9)
    )
    assert running(moved, started).rtvi.port == started.rtvi.port
    assert running(moved, started).rtvi.max_sessions == 9
    assert waiting_for_restart(moved, started) == [
        "[rtvi] port (its listening socket is opened at start)"
    ]

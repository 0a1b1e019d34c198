"""Run the real daemon in-process on 127.0.0.1, a free port, no sound card; and talk
RTVI to it over a real WebSocket."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp

from rtvi_edge.config import Config, config_from_mapping
from rtvi_edge.daemon import Daemon
from rtvi_edge.engines.hub import Engines, build_engines
from rtvi_edge.rtvi import frames
from tests.helpers import rtvi_frame as rtvi  # the integration tests import it from here
from tests.integration.mosquitto import Mosquitto
from tests.integration.mqtt_watcher import Watcher


def daemon_config(state_dir: Path, **sections: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {
        "rtvi": {"host": "127.0.0.1", "port": 0},
        "audio": {"backend": "none"},
        "device": {"state_dir": str(state_dir), "device_id": "test-device"},
        "log": {"journald": "off"},
    }
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    return data


class RecordingNotifier:
    """Stands in for sd_notify in-process; the systemd tests use the real socket."""

    watchdog_interval: float | None = None

    def __init__(self) -> None:
        self.sent: list[str] = []

    def ready(self, status: str) -> None:
        self.sent += ["READY=1", f"STATUS={status}"]

    def status(self, text: str) -> None:
        self.sent.append(f"STATUS={text}")

    def watchdog(self) -> None:
        self.sent.append("WATCHDOG=1")

    def reloading(self) -> None:
        self.sent.append("RELOADING=1")

    def ready_after_reload(self) -> None:
        self.sent.append("READY=1")

    def stopping(self, status: str) -> None:
        self.sent.append("STOPPING=1")


@asynccontextmanager
async def running_daemon(
    state_dir: Path, engines: Engines | None = None, **sections: dict[str, Any]
) -> AsyncIterator[Daemon]:
    """`engines`: fakes for the fast tests (tests/fakes.py); None: the real models
    (loaded once per test process when the config asks for the default ones)."""
    config = config_from_mapping(daemon_config(state_dir, **sections))
    if engines is None and _default_engines(config):
        engines = await _shared_engines()
    daemon = Daemon(config, None, RecordingNotifier(), engines=engines)
    await daemon.start()
    try:
        yield daemon
    finally:
        await daemon.stop()


@asynccontextmanager
async def daemon_with_broker(
    tmp_path: Path,
    engines: Engines | None = None,
    mqtt: dict[str, Any] | None = None,
    **sections: dict[str, Any],
) -> AsyncIterator[tuple[Daemon, Mosquitto, Watcher]]:
    """A real mosquitto, the daemon's MQTT bridge on it (`mqtt`: more of its settings),
    and a watcher subscribed to everything."""
    broker = Mosquitto(tmp_path)
    broker.start()
    watcher = Watcher(broker.port)
    bridge = {"enabled": True, "host": "127.0.0.1", "port": broker.port, **(mqtt or {})}
    try:
        async with running_daemon(tmp_path / "state", engines, mqtt=bridge, **sections) as daemon:
            yield daemon, broker, watcher
    finally:
        watcher.close()
        broker.stop()


_SHARED: list[Engines] = []


def _default_engines(config: Config) -> bool:
    d = Config()
    return (config.stt, config.llm, config.tts, config.vad) == (d.stt, d.llm, d.tts, d.vad)


async def _shared_engines() -> Engines:
    """The default models, built once: each daemon swaps its own engines on update-config,
    so sharing the first build is safe, and saves seconds of loading per test."""
    if not _SHARED:
        _SHARED.append(await asyncio.to_thread(build_engines, Config()))
    return _SHARED[0]


async def next_message(
    ws: aiohttp.ClientWebSocketResponse,
    timeout: float = 30,
    skip: tuple[str, ...] = ("server-message",),
) -> dict[str, Any]:
    """The next RTVI message. Audio frames are skipped, and by default server-messages
    (device notifications: state, config, timers, which come at any time)."""
    while True:
        msg = await ws.receive(timeout=timeout)
        assert msg.type == aiohttp.WSMsgType.BINARY, msg
        frame = frames.decode_frame(msg.data)
        if isinstance(frame, frames.MessageFrame):
            parsed: dict[str, Any] = json.loads(frame.data)
            if parsed.get("type") not in skip:
                return parsed


async def ready_ws(
    http: aiohttp.ClientSession, port: int, query: str = ""
) -> aiohttp.ClientWebSocketResponse:
    """A WebSocket past the RTVI handshake (client-ready → bot-ready)."""
    ws = await http.ws_connect(f"http://127.0.0.1:{port}/ws{query}")
    await ws.send_bytes(
        rtvi("client-ready", {"version": "2.1.0", "about": {"library": "t"}}, "ready-1")
    )
    first = await next_message(ws)
    assert first["type"] == "bot-ready" and first["id"] == "ready-1", first
    return ws


async def messages_until(
    ws: aiohttp.ClientWebSocketResponse,
    done: Callable[[dict[str, Any]], bool],
    timeout: float = 90,
    on_message: Callable[[dict[str, Any]], None] | None = None,
    on_audio: Callable[[frames.AudioFrame], None] | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """RTVI messages up to and including the one `done` accepts, and the audio samples
    received (each audio frame also goes to `on_audio`)."""
    seen: list[dict[str, Any]] = []
    samples = 0
    async with asyncio.timeout(timeout):
        while True:
            msg = await ws.receive()
            assert msg.type == aiohttp.WSMsgType.BINARY, msg
            frame = frames.decode_frame(msg.data)
            if isinstance(frame, frames.AudioFrame):
                samples += len(frame.audio) // 2
                if on_audio is not None:
                    on_audio(frame)
                continue
            assert isinstance(frame, frames.MessageFrame)
            parsed: dict[str, Any] = json.loads(frame.data)
            seen.append(parsed)
            if on_message is not None:
                on_message(parsed)
            if done(parsed):
                return seen, samples


async def until_type(
    ws: aiohttp.ClientWebSocketResponse, mtype: str, timeout: float = 30
) -> tuple[dict[str, Any], list[dict[str, Any]], list[tuple[float, int]]]:
    """Reads until a message of `mtype`; returns it, the messages before, and audio arrivals."""
    audio: list[tuple[float, int]] = []

    def heard(frame: frames.AudioFrame) -> None:
        audio.append((time.monotonic(), len(frame.audio) // 2))
        assert frame.sample_rate == 24000 and frame.num_channels == 1

    seen, _samples = await messages_until(ws, lambda m: m["type"] == mtype, timeout, None, heard)
    return seen[-1], seen[:-1], audio


async def collect_until(
    ws: aiohttp.ClientWebSocketResponse, done: Callable[[dict[str, Any]], bool], timeout: float = 60
) -> list[dict[str, Any]]:
    """RTVI messages up to and including the first for which `done` is true."""
    seen: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout):
        while True:
            msg = await next_message(ws, timeout)
            seen.append(msg)
            if done(msg):
                return seen

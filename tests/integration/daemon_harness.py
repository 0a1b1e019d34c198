"""Run the real daemon in-process on 127.0.0.1, a free port, no sound card."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp

from rtvi_edge.config import config_from_mapping
from rtvi_edge.daemon import Daemon
from rtvi_edge.rtvi import frames


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
async def running_daemon(state_dir: Path, **sections: dict[str, Any]) -> AsyncIterator[Daemon]:
    config = config_from_mapping(daemon_config(state_dir, **sections))
    daemon = Daemon(config, None, RecordingNotifier())
    await daemon.start()
    try:
        yield daemon
    finally:
        await daemon.stop()


def rtvi(mtype: str, data: Any = None, msg_id: str = "1") -> bytes:
    obj: dict[str, Any] = {"label": "rtvi-ai", "type": mtype, "id": msg_id}
    if data is not None:
        obj["data"] = data
    return frames.encode_message(json.dumps(obj))


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

"""Shared test helpers: event waiters, audio feeders (for fakes and real engines), and
RTVI frames in and out."""

from __future__ import annotations

import asyncio
import json
import socket
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

from rtvi_edge import events as ev
from rtvi_edge.rtvi import frames
from rtvi_edge.rtvi.protocol import RtviProtocol

RATE = 16000
E = TypeVar("E", bound=ev.Event)


class Microphone(Protocol):
    def feed_audio(self, pcm16k: bytes) -> None: ...


async def feed(conv: Microphone, pcm: bytes, frame: int = 512, realtime: bool = False) -> None:
    """16 kHz audio into `conv` frame by frame; `realtime`: paced like a microphone
    (on an absolute schedule, so a slow frame does not stretch the audio)."""
    t = time.monotonic()
    for i in range(0, len(pcm), frame * 2):
        conv.feed_audio(pcm[i : i + frame * 2])
        if realtime:
            t += frame / RATE
            await asyncio.sleep(max(0.0, t - time.monotonic()))
        else:
            await asyncio.sleep(0)


async def next_event(sub: ev.Subscription, kind: type[E], timeout: float = 10) -> E:
    """The next event of `kind` (earlier ones of other kinds are dropped)."""
    async with asyncio.timeout(timeout):
        while True:
            event = await sub.get()
            if isinstance(event, kind):
                return event


def drain(sub: ev.Subscription) -> list[ev.Event]:
    """Everything queued now, without waiting."""
    out = []
    while not sub.queue.empty():
        out.append(sub.queue.get_nowait())
    return out


def rtvi_frame(mtype: str, data: Any = None, msg_id: str = "1", label: str = "rtvi-ai") -> bytes:
    """One RTVI message as a client sends it: a protobuf MessageFrame around the JSON."""
    obj: dict[str, Any] = {"label": label, "type": mtype, "id": msg_id}
    if data is not None:
        obj["data"] = data
    return frames.encode_message(json.dumps(obj))


def replies(p: RtviProtocol) -> list[dict[str, Any]]:
    """What the protocol has to send, as JSON messages."""
    out = []
    for data in p.take():
        frame = frames.decode_frame(data)
        assert isinstance(frame, frames.MessageFrame)
        out.append(json.loads(frame.data))
    return out


def toml_text(data: dict[str, dict[str, Any]]) -> str:
    """Enough TOML for a test's config file (flat sections of plain values and lists)."""

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, list | tuple):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return repr(v) if isinstance(v, int | float) else f'"{v}"'

    return "".join(
        f"[{name}]\n" + "".join(f"{k} = {value(v)}\n" for k, v in section.items())
        for name, section in data.items()
    )


@contextmanager
def datagram_listener(name: str) -> Iterator[tuple[str, socket.socket]]:
    """A bound AF_UNIX datagram socket (the journal's, systemd's notify socket) and its
    path, in a short temporary directory: such paths are limited to 108 bytes."""
    with tempfile.TemporaryDirectory(prefix="rtvi-") as tmp:
        path = str(Path(tmp) / name)
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.bind(path)
            sock.settimeout(2)
            yield path, sock

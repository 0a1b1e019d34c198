"""The daemon with timestamps where audio crosses the transports (bench only).

    RTVI_PROBE=/tmp/probe.jsonl python -m bench.transport_probe --config x.toml run

Wraps a few methods before `rtvi_edge.cli.main` runs, and appends one JSON line per
event (wall-clock seconds: the browser on the same machine reads the same clock):
- `heard_loud_end`: the last chunk of the user's voice above -40 dBFS reached the
  session (the uplink: packetisation, decoding, resampling, queueing);
- `released`: the first piece of a bot answer handed to the transport's sink;
- `sent`: that piece's first sound left the WebRTC track for aiortc's sender (the
  track's clock, its queue, the Opus encoder), with how late the track's 20 ms
  ticks ran since the last answer (the jitter that Chrome's buffer sizes itself by),
  and how long the track was silent before it (short: a gap inside an answer, the
  track ran dry).
The production code is untouched; bench/webrtc_compare.py --probe starts it."""

from __future__ import annotations

import importlib.abc
import importlib.util
import json
import os
import sys
import time
import types
from collections.abc import Callable
from typing import Any

import numpy as np

LOUD = 32768 * 10 ** (-40 / 20)  # bench/speech.py's speech_end threshold
_OUT = os.environ.get("RTVI_PROBE", "")


def _emit(event: str, **fields: Any) -> None:
    if _OUT:
        with open(_OUT, "a", encoding="utf-8") as f:
            f.write(json.dumps({"ev": event, "t": time.time(), **fields}) + "\n")


def _loud(pcm: bytes) -> bool:
    a = np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype=np.int16).astype(np.float32)
    return bool(a.size) and float(np.sqrt(np.mean(a * a))) > LOUD


class _AfterImport(importlib.abc.MetaPathFinder):
    """Runs `then(module)` once `name` is imported: the daemon imports its WebRTC stack
    at the first offer, and the probe must not import it (and aiortc) any sooner."""

    def __init__(self, name: str, then: Callable[[types.ModuleType], None]) -> None:
        self.name, self.then = name, then

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        loader: Any = spec.loader
        run = loader.exec_module

        def exec_module(module: types.ModuleType) -> None:
            run(module)
            self.then(module)

        loader.exec_module = exec_module
        return spec


def _patch() -> None:
    from rtvi_edge.rtvi import session as session_mod
    from rtvi_edge.rtvi import websocket as ws_mod

    loud_at: dict[int, float] = {}

    def heard(owner: object, pcm: bytes, transport: str) -> None:
        key = id(owner)
        if _loud(pcm):
            loud_at[key] = time.time()
        elif key in loud_at:
            _emit("heard_loud_end", transport=transport, at=loud_at.pop(key))

    session_cls = session_mod.RtviSession
    orig_feed = session_cls.feed_audio
    orig_audio = session_cls._audio

    def feed_audio(self: Any, pcm: bytes) -> None:
        heard(self, pcm, "webrtc")
        orig_feed(self, pcm)

    def audio(self: Any, item: Any) -> None:
        heard(self, item.pcm, "websocket")  # 16 kHz mono from the official client
        orig_audio(self, item)

    session_cls.feed_audio = feed_audio  # type: ignore[method-assign]
    session_cls._audio = audio  # type: ignore[method-assign]

    last_play: dict[int, float] = {}

    def wrap_play(cls: Any, transport: str) -> None:
        orig = cls.play

        async def play(self: Any, pcm: bytes) -> None:
            now = time.time()
            if now - last_play.get(id(self), 0.0) > 0.5 and self.buffered() == 0:
                _emit("released", transport=transport)
            last_play[id(self)] = now
            await orig(self, pcm)
            last_play[id(self)] = time.time()

        cls.play = play

    wrap_play(ws_mod.WebSocketSink, "websocket")
    audio_module = "rtvi_edge.rtvi.webrtc.audio"
    if audio_module in sys.modules:
        _patch_webrtc(sys.modules[audio_module], wrap_play)
    else:
        sys.meta_path.insert(0, _AfterImport(audio_module, lambda m: _patch_webrtc(m, wrap_play)))


def _patch_webrtc(rtc_audio: Any, wrap_play: Callable[[Any, str], None]) -> None:
    wrap_play(rtc_audio.WebRtcSink, "webrtc")
    track_cls = rtc_audio.BotAudioTrack
    orig_next = track_cls._next_frame
    orig_recv = track_cls.recv
    state: dict[int, dict[str, Any]] = {}

    def next_frame(self: Any) -> Any:
        s = state.setdefault(id(self), {"silent": True, "late": [], "quiet": 0})
        sound = any(self._buffer[: self._samples * 2])
        s["quiet"] = 0 if sound and not s["silent"] else s["quiet"] + (not sound)
        if sound and s["silent"]:
            late = np.array(s["late"] or [0.0]) * 1000
            _emit(
                "sent",
                transport="webrtc",
                silent_before_ms=round(s["quiet"] * rtc_audio.FRAME_S * 1000),
                queued_s=round(self.queued(), 3),
                late_p50_ms=round(float(np.percentile(late, 50)), 1),
                late_p95_ms=round(float(np.percentile(late, 95)), 1),
                late_max_ms=round(float(late.max()), 1),
                ticks=len(s["late"]),
            )
            s["late"], s["quiet"] = [], 0
        s["silent"] = not sound
        return orig_next(self)

    async def recv(self: Any) -> Any:
        out = await orig_recv(self)
        if self._start is not None:
            import asyncio

            due = self._start + (self._sent - 1) * rtc_audio.FRAME_S
            late = asyncio.get_running_loop().time() - due
            s = state.setdefault(id(self), {"silent": True, "late": [], "quiet": 0})
            if len(s["late"]) < 20000:
                s["late"].append(max(0.0, late))
        return out

    track_cls._next_frame = next_frame  # type: ignore[method-assign]
    track_cls.recv = recv  # type: ignore[method-assign]


def _watch_slow_callbacks() -> None:
    """RTVI_PROBE_SLOW=<seconds>: asyncio's debug mode names every callback that holds
    the event loop longer (the track's 20 ms ticks wait behind them)."""
    import asyncio
    import logging

    limit = float(os.environ.get("RTVI_PROBE_SLOW", "0") or 0)
    if not limit:
        return
    original = asyncio.events.new_event_loop

    def new_loop() -> asyncio.AbstractEventLoop:
        loop = original()
        loop.set_debug(True)
        loop.slow_callback_duration = limit
        return loop

    asyncio.events.new_event_loop = new_loop  # type: ignore[assignment]
    handler = logging.FileHandler(_OUT + ".slow")
    logging.getLogger("asyncio").addHandler(handler)


def main() -> int:
    _patch()
    _watch_slow_callbacks()
    from rtvi_edge.cli import main as cli_main

    return int(cli_main() or 0)


if __name__ == "__main__":
    sys.exit(main())

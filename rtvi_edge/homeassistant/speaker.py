"""Home Assistant's audio on the device's speaker: answers, announcements, media, timers.

One piece at a time (a new one stops the last), played like a bot turn: the
conversation publishes BotStartedSpeaking/BotStoppedSpeaking around it, so its
echo guard, state and the echo canceller's reference follow.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

import numpy as np

from rtvi_edge import events as ev
from rtvi_edge.audio.pcm import apply_gain
from rtvi_edge.homeassistant import media
from rtvi_edge.pipeline.handoff import HandoffHost

log = logging.getLogger(__name__)

PIECE_SECS = 0.05  # handed to the sink at a time: a stop cuts within this


class Speaker:
    def __init__(self, conv: HandoffHost, base_url: Callable[[], str]) -> None:
        self.conv = conv
        self._base_url = base_url
        self._current: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def playing(self) -> bool:
        return self._current is not None and not self._current.done()

    def start(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        self.stop()
        task = asyncio.create_task(coro, name=name)
        self._current = task
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if self._current is task:
            self._current = None
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            log.error("playing Home Assistant's audio failed: %s", exc, exc_info=exc)

    def stop(self) -> bool:
        """Stop what plays; True if something did."""
        task = self._current
        if task is None or task.done() or task is asyncio.current_task():
            return False  # (from inside the piece itself: it ends by itself)
        self._current = None
        task.cancel()
        return True

    async def fetch(self, url: str) -> bytes:
        """Home Assistant's audio at `url`, decoded for the speaker."""
        sink = self.conv.sink
        if sink is None:
            raise media.MediaError("the device has no speaker right now")
        data = await media.fetch(media.absolute_url(url, self._base_url()))
        return await media.decode(data, sink.sample_rate)

    async def play(self, pcm: bytes) -> None:
        """Mono s16le at the sink's rate, to the end (or until cancelled)."""
        sink = self.conv.sink
        if sink is None or not pcm:
            return
        pcm = apply_gain(pcm, self.conv.volume)
        piece = max(2, int(sink.sample_rate * PIECE_SECS) * 2)
        sid = self.conv.session_id
        self.conv.publish(ev.BotStartedSpeaking(session_id=sid))
        try:
            for off in range(0, len(pcm), piece):
                await sink.play(pcm[off : off + piece])
            await asyncio.sleep(sink.buffered())
        except asyncio.CancelledError:
            await sink.discard()
            raise
        finally:
            self.conv.publish(ev.BotStoppedSpeaking(session_id=sid))

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*self._tasks, return_exceptions=True)


def timer_chime(rate: int) -> bytes:
    """Three short high beeps and a pause: unlike the wake earcon, and clearly a timer."""
    beep_t = np.arange(int(rate * 0.12)) / rate
    fade = np.minimum(1.0, np.minimum(beep_t, beep_t[-1] - beep_t) / 0.005)
    beep = np.sin(2 * np.pi * 1760 * beep_t) * fade
    gap = np.zeros(int(rate * 0.08))
    pause = np.zeros(int(rate * 0.6))
    wave = np.concatenate([beep, gap, beep, gap, beep, pause]) * 0.3 * 32767
    return bytes(wave.astype(np.int16).tobytes())

"""Free native memory goes back to the OS after answers (glibc's `malloc_trim`).

ONNX Runtime (Piper runs without its arena), CTranslate2 and llama.cpp allocate
and free tens of MiB per turn, from several threads. glibc keeps what they free
in its per-thread arenas, so RSS climbed to the largest turn's working set in
every arena: 3 threads synthesising 90 pieces with Piper grew 424 → 607 MiB and
stayed; with a trim after each round it stayed at 180–215 MiB. A trim costs a
few milliseconds in a worker thread, after the answer, never during one.

Within a turn, glibc's defaults still stacked the engines' working memory: after a large
free, its mmap threshold rises (up to 32 MiB), so the next large blocks come from the heap
arenas and stay there until the trim, while another engine works in another arena.
`tune_malloc` fixes the threshold at 128 KiB (large blocks are mapped and handed back the
moment they are freed) and caps the arenas at 2: Piper's working memory for a 7.6 s piece
fell from 254 to 130 MiB, the bench's peak RSS from 670 to 524 MiB (docs/benchmark.md).
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
import time
from collections.abc import Callable

from rtvi_edge import events as ev

log = logging.getLogger(__name__)

MIN_INTERVAL_SECS = 5.0  # several sessions answering at once: one trim is enough
M_MMAP_THRESHOLD = -3  # mallopt's parameters (malloc.h)
M_ARENA_MAX = -8
MMAP_THRESHOLD = 128 * 1024  # glibc's initial value, kept fixed
ARENA_MAX = 2


def libc_trim() -> Callable[[], None] | None:
    """glibc's malloc_trim(0), or None where the C library has none (musl, macOS)."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    trim = getattr(libc, "malloc_trim", None)
    if trim is None:
        return None
    trim.argtypes = [ctypes.c_size_t]
    return lambda: trim(0)


def tune_malloc(environ: dict[str, str] | None = None) -> bool:
    """Fixes glibc's mmap threshold and caps its arenas (see above), unless the
    environment already sets them (MALLOC_MMAP_THRESHOLD_, MALLOC_ARENA_MAX).
    Call it early, before the engines load. False where the C library has no mallopt."""
    import os

    env = os.environ if environ is None else environ
    name = ctypes.util.find_library("c")
    try:
        mallopt = getattr(ctypes.CDLL(name), "mallopt", None) if name else None
    except OSError:
        return False
    if mallopt is None:
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    if "MALLOC_MMAP_THRESHOLD_" not in env:
        mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    if "MALLOC_ARENA_MAX" not in env:
        mallopt(M_ARENA_MAX, ARENA_MAX)
    return True


class MemoryTrimmer:
    """Owned by the daemon: trims after each answer, at most every `min_interval`."""

    def __init__(
        self,
        bus: ev.EventBus,
        trim: Callable[[], None] | None = None,
        min_interval: float = MIN_INTERVAL_SECS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._bus = bus
        self._trim = trim
        self._min_interval = min_interval
        self._clock = clock
        self._last = float("-inf")
        self.trims = 0

    async def run(self) -> None:
        if self._trim is None:
            log.debug("no malloc_trim in this C library: freed memory stays with the process")
            return
        sub = self._bus.subscribe(maxsize=64)
        try:
            while True:
                event = await sub.get()
                if isinstance(event, ev.TurnMetrics | ev.BotStoppedSpeaking):
                    await self.after_answer()
        finally:
            sub.close()

    async def after_answer(self) -> None:
        now = self._clock()
        if self._trim is None or now - self._last < self._min_interval:
            return
        self._last = now
        await asyncio.to_thread(self._trim)
        self.trims += 1

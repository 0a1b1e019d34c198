"""Run blocking engine generators in worker threads, streaming into asyncio."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TypeVar

T = TypeVar("T")

_DONE = object()
# The LLM pauses while the first clause is synthesised. With four sessions the default
# executor (cpu + 4 threads) filled up with LLM calls waiting for the engine lock, the
# synthesis that would end the pause never got a thread, and every session hung.
MAX_PAUSE_SECS = 2.0


async def iterate_in_thread(
    make: Callable[[], Iterator[T]],
    cancel: threading.Event | None = None,
    go: threading.Event | None = None,
    max_pause: float = MAX_PAUSE_SECS,
) -> AsyncIterator[T]:
    """Yields what `make()` yields, produced in a worker thread.

    If the consumer stops early (break, cancellation), `cancel` is set and the
    generator is closed in its thread so engine locks are released. While `go`
    is clear the producer waits before its next item (to yield the CPU), but never
    longer than `max_pause`: it may hold an engine lock, and whoever would set `go`
    may itself be waiting for a worker thread that only a finished producer frees.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[object] = asyncio.Queue()
    stop = cancel or threading.Event()

    def produce() -> None:
        gen = make()
        try:
            for item in gen:
                loop.call_soon_threadsafe(queue.put_nowait, item)
                if stop.is_set():
                    break
                paused_until = time.monotonic() + max_pause
                while go is not None and not go.wait(0.05):
                    if stop.is_set():
                        return
                    if time.monotonic() > paused_until:
                        break
        except BaseException as exc:  # handed to the consumer, re-raised there
            loop.call_soon_threadsafe(queue.put_nowait, exc)
        finally:
            close = getattr(gen, "close", None)
            if close is not None:
                close()
            loop.call_soon_threadsafe(queue.put_nowait, _DONE)

    worker = asyncio.ensure_future(asyncio.to_thread(produce))
    try:
        while True:
            item = await queue.get()
            if item is _DONE:
                break
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        # Wait for the thread to let go of the engine, but never hang forever on it.
        await asyncio.wait([worker], timeout=30)

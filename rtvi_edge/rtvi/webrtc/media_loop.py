"""aiortc on its own event loop, in its own thread: the bot's voice leaves on time.

Chrome's jitter buffer sizes itself by how late the device's 20 ms packets arrive;
on the daemon's loop they waited behind everything else the loop runs (the
session, the pipeline's token and audio streams, JSON, other sessions). Every
aiortc object (the peer connection, ICE, DTLS, SCTP, the RTP sender and the bot's
track) is bound to the loop it was made on, so each peer connection is made and
driven here, and the peer (peer.py) hands work over with `run` and `post`; events
come back to the daemon's loop with its `call_soon_threadsafe`.

One media loop serves every peer; the routes start it at the first offer and
stop it (its thread joined) at shutdown, after closing the peers.

A thread of its own is not enough on a machine short of CPU: it waits its turn
behind speech-to-text, the LLM and Piper (and other programs) like any thread. So
it asks Linux for a nice value MEDIA_NICE_BOOST below the daemon's, as far as it
may (root or CAP_SYS_NICE; for the service user, the unit's LimitNICE=): it sleeps
but for a moment every 20 ms, so it takes next to nothing from the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from rtvi_edge.errors import RtviEdgeError

log = logging.getLogger(__name__)

T = TypeVar("T")
THREAD_NAME = "webrtc-media"
STOP_SECS = 5.0  # what is left on the loop at shutdown gets this long to end
MEDIA_NICE_BOOST = 10


class MediaLoopClosed(RtviEdgeError, ConnectionError):
    """Work handed to a media loop that has stopped (the daemon is shutting down)."""


class MediaLoop:
    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None or self._loop.is_closed():
            raise MediaLoopClosed("the WebRTC media loop is not running")
        return self._loop

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.running:
            return
        self._ready.clear()
        self._thread = threading.Thread(target=self._main, name=THREAD_NAME, daemon=True)
        self._thread.start()
        self._ready.wait()

    def _main(self) -> None:
        raise_priority(MEDIA_NICE_BOOST)
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        loop.call_soon(self._ready.set)
        try:
            loop.run_forever()
        finally:
            with contextlib.suppress(Exception):
                loop.run_until_complete(_cancel_all(loop))
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.run_until_complete(loop.shutdown_default_executor())
            asyncio.set_event_loop(None)
            loop.close()

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Awaits `coro` run on the media loop; cancelling the wait cancels it there."""
        try:
            future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        except (MediaLoopClosed, RuntimeError) as exc:  # stopped meanwhile
            coro.close()
            raise MediaLoopClosed("the WebRTC media loop is not running") from exc
        return await asyncio.wrap_future(future)

    def post(self, fn: Callable[..., object], *args: Any) -> None:
        """Calls `fn(*args)` soon on the media loop (in order); an error is logged there."""
        with contextlib.suppress(MediaLoopClosed):  # stopping: nothing to do
            call_soon(self.loop, _logged, fn, *args)

    async def stop(self) -> None:
        """Ends what is still on the loop, stops it and joins its thread."""
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        with contextlib.suppress(RuntimeError):  # closed already
            loop.call_soon_threadsafe(loop.stop)
        await asyncio.to_thread(thread.join, STOP_SECS + 1)
        if thread.is_alive():
            log.warning("the WebRTC media thread did not end in time")
        self._thread = None


def call_soon(loop: asyncio.AbstractEventLoop, fn: Callable[..., object], *args: Any) -> None:
    """Calls `fn(*args)` soon on `loop`, from any thread; nothing once it has closed
    (nobody there waits any more)."""
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(fn, *args)


def raise_priority(boost: int) -> int:
    """This thread's nice value lowered by up to `boost`, as far as allowed; the new one."""
    tid = threading.get_native_id()
    try:
        current = os.getpriority(os.PRIO_PROCESS, tid)
    except (AttributeError, OSError):  # not Linux
        return 0
    for nice in range(max(-20, current - boost), current):
        try:
            os.setpriority(os.PRIO_PROCESS, tid, nice)
        except OSError:  # not allowed this low: try a little higher
            continue
        log.debug("WebRTC media thread at nice %d (the daemon's: %d)", nice, current)
        return nice
    log.debug("WebRTC media thread at the daemon's nice %d: not allowed lower", current)
    return current


async def _cancel_all(loop: asyncio.AbstractEventLoop) -> None:
    tasks = [t for t in asyncio.all_tasks(loop) if t is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks, timeout=STOP_SECS)


def _logged(fn: Callable[..., object], *args: Any) -> None:
    try:
        fn(*args)
    except Exception:
        log.exception("WebRTC media loop: %r failed", fn)

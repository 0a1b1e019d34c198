"""Admission on the RTVI port: who gets a session slot, and which sockets are closed.

* Slots are counted for *ready* sessions only (after `client-ready`); a socket that
  never sends it is closed after `ready_timeout_secs` and never holds a slot.
* A full device answers HTTP 503 before the WebSocket upgrade, so a client's
  `connect()` fails at once instead of getting a socket and then a fatal error.
* TCP connections are capped; a connection that is not inside a request (never
  sends one, sends its headers too slowly, idles after a response, or is half
  open) is closed after `idle_timeout_secs`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
    b"Content-Length: 32\r\nConnection: close\r\n\r\ntoo many connections; try later\n"
)


class Slots:
    """Ready sessions against `max_sessions`; waiting sockets against `max_waiting`."""

    def __init__(self, max_sessions: int, max_waiting: int) -> None:
        self.max_sessions = max_sessions
        self.max_waiting = max_waiting
        self.ready: set[str] = set()
        self.waiting: set[str] = set()

    def refuse_connect(self) -> str | None:
        """Why a new socket may not be opened now, or None."""
        if len(self.ready) >= self.max_sessions:
            return f"the device already serves {self.max_sessions} sessions"
        if len(self.waiting) >= self.max_waiting:
            return "too many connections are waiting for client-ready"
        return None

    def connected(self, session_id: str) -> None:
        self.waiting.add(session_id)

    def make_ready(self, session_id: str) -> str | None:
        """Takes a slot for a session that sent client-ready; the reason when full."""
        if session_id in self.ready:
            return None
        if len(self.ready) >= self.max_sessions:
            return f"the device already serves {self.max_sessions} sessions"
        self.waiting.discard(session_id)
        self.ready.add(session_id)
        return None

    def closed(self, session_id: str) -> None:
        self.waiting.discard(session_id)
        self.ready.discard(session_id)


class _Refuse(asyncio.Protocol):
    """Over the connection cap: a short 503 and close."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.WriteTransport)
        transport.write(_BUSY)
        transport.close()


class ConnectionGuard:
    """Wraps aiohttp's protocol factory: a connection cap and an idle reaper.

    `active` counts the requests a connection is inside (a middleware calls
    `begin`/`end`); a WebSocket is one long request and is watched by its own
    heartbeat and ready deadline instead.
    """

    def __init__(
        self, factory: Callable[[], asyncio.Protocol], max_connections: int, idle_secs: float
    ) -> None:
        self._factory = factory
        self.max_connections = max_connections
        self.idle_secs = idle_secs
        self._idle_since: dict[Any, float] = {}  # transport → when it last became idle
        self._active: dict[Any, int] = {}
        self._protocols: dict[Any, asyncio.Protocol] = {}
        self._task: asyncio.Task[None] | None = None
        self.refused = 0
        self.reaped = 0

    def __call__(self) -> asyncio.Protocol:
        if len(self._protocols) >= self.max_connections:
            self.refused += 1
            if self.refused == 1 or self.refused % 100 == 0:
                log.warning("connection cap of %d reached: refusing", self.max_connections)
            return _Refuse()
        return _Tracked(self, self._factory())

    # -- bookkeeping -----------------------------------------------------------
    def opened(self, transport: Any, protocol: asyncio.Protocol) -> None:
        self._protocols[transport] = protocol
        self._idle_since[transport] = time.monotonic()

    def lost(self, transport: Any) -> None:
        self._protocols.pop(transport, None)
        self._idle_since.pop(transport, None)
        self._active.pop(transport, None)

    def begin(self, transport: Any) -> None:
        if transport in self._protocols:
            self._active[transport] = self._active.get(transport, 0) + 1

    def end(self, transport: Any) -> None:
        count = self._active.get(transport, 0) - 1
        if count > 0:
            self._active[transport] = count
        else:
            self._active.pop(transport, None)
            if transport in self._protocols:
                self._idle_since[transport] = time.monotonic()

    @property
    def connections(self) -> int:
        return len(self._protocols)

    # -- the reaper --------------------------------------------------------------
    def start(self) -> None:
        self._task = asyncio.create_task(self._reap(), name="rtvi-idle-reaper")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def reap_once(self, now: float) -> int:
        closed = 0
        for transport, since in list(self._idle_since.items()):
            if transport in self._active or now - since < self.idle_secs:
                continue
            transport.close()
            self.lost(transport)
            closed += 1
        self.reaped += closed
        return closed

    async def _reap(self) -> None:
        interval = max(0.05, min(1.0, self.idle_secs / 4))
        while True:
            await asyncio.sleep(interval)
            self.reap_once(time.monotonic())


class _Tracked(asyncio.Protocol):
    """aiohttp's request handler, with the guard told when the connection opens and ends."""

    def __init__(self, guard: ConnectionGuard, inner: asyncio.Protocol) -> None:
        self._guard = guard
        self._inner = inner
        self._transport: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        self._guard.opened(transport, self)
        self._inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self._guard.lost(self._transport)
        self._inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

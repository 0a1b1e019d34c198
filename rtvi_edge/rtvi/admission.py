"""Admission on the RTVI port: who gets a session slot, and which sockets are closed.

* Slots are counted for *ready* sessions only (after `client-ready`); a socket that
  never sends it is closed after `ready_timeout_secs` and never holds a slot.
* A full device answers HTTP 503 before the WebSocket upgrade, so a client's
  `connect()` fails at once instead of getting a socket and then a fatal error.
* One client address gets a fair share: a few waiting sockets, sessions and TCP
  connections (`AddressLimits`), so a peer that keeps reconnecting cannot keep
  others out.
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
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

REFUSAL_LOG_SECS = 60.0

_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
    b"Content-Length: 32\r\nConnection: close\r\n\r\ntoo many connections; try later\n"
)


WEBSOCKET_CEILING = 16 * 1024 * 1024


def websocket_limit(max_message_bytes: int) -> int:
    """aiohttp's own limit on one WebSocket message (deflated or not), over which it
    closes the socket (1009). It is set well above `max_message_bytes`, so that a large
    message gets the protocol's error-response and the session goes on; it stays
    bounded because aiohttp holds a whole message in memory before we see it."""
    return max(WEBSOCKET_CEILING, 4 * max_message_bytes)


@dataclass(frozen=True)
class AddressLimits:
    """What one client address may hold at once (0: no limit). Paired callers (the
    token, the device itself) are held only to the global limits."""

    waiting: int = 2  # sockets waiting for client-ready
    sessions: int = 2  # ready sessions
    connections: int = 16  # TCP connections (known before any HTTP: applies to everyone)


class Slots:
    """Ready sessions against `max_sessions`; waiting sockets against `max_waiting`;
    a guest address against its own share of both (`AddressLimits`)."""

    def __init__(
        self, max_sessions: int, max_waiting: int, per_address: AddressLimits | None = None
    ) -> None:
        self.max_sessions = max_sessions
        self.max_waiting = max_waiting
        self.per_address = per_address or AddressLimits(0, 0, 0)
        self.ready: set[str] = set()
        self.waiting: set[str] = set()
        self._address: dict[str, str] = {}  # session → the guest address it counts against

    def _count(self, pool: set[str], address: str) -> int:
        return sum(1 for sid in pool if self._address.get(sid) == address)

    def refuse_connect(self, address: str | None = None) -> str | None:
        """Why a new socket may not be opened now, or None (`address`: a guest's)."""
        if len(self.ready) >= self.max_sessions:
            return f"the device already serves {self.max_sessions} sessions"
        limits = self.per_address
        if address is not None:
            if limits.sessions and self._count(self.ready, address) >= limits.sessions:
                return f"your address already has {limits.sessions} sessions here"
            if limits.waiting and self._count(self.waiting, address) >= limits.waiting:
                return (
                    f"your address already has {limits.waiting} connections waiting "
                    "for client-ready"
                )
        if len(self.waiting) >= self.max_waiting:
            return "too many connections are waiting for client-ready"
        return None

    def connected(self, session_id: str, address: str | None = None) -> None:
        self.waiting.add(session_id)
        if address is not None:
            self._address[session_id] = address

    def make_ready(self, session_id: str) -> str | None:
        """Takes a slot for a session that sent client-ready; the reason when full."""
        if session_id in self.ready:
            return None
        if len(self.ready) >= self.max_sessions:
            return f"the device already serves {self.max_sessions} sessions"
        address, most = self._address.get(session_id), self.per_address.sessions
        if address is not None and most and self._count(self.ready, address) >= most:
            return f"your address already has {most} sessions here"
        self.waiting.discard(session_id)
        self.ready.add(session_id)
        return None

    def closed(self, session_id: str) -> None:
        self.waiting.discard(session_id)
        self.ready.discard(session_id)
        self._address.pop(session_id, None)


class ConnectionGuard:
    """Wraps aiohttp's protocol factory: a connection cap, a cap per address, an idle reaper.

    The caps are checked in `connection_made`, one connection at a time: the event
    loop may call the factory for a whole burst of accepted sockets before any of
    them is made, so counting factory calls would let a burst through.
    `active` counts the requests a connection is inside (a middleware calls
    `begin`/`end`); a WebSocket is one long request and is watched by its own
    heartbeat and ready deadline instead.
    """

    def __init__(
        self,
        factory: Callable[[], asyncio.Protocol],
        max_connections: int,
        idle_secs: float,
        per_address: int = 0,
    ) -> None:
        self._factory = factory
        self.max_connections = max_connections
        self.per_address = per_address  # 0: no limit
        self.idle_secs = idle_secs
        self._idle_since: dict[Any, float] = {}  # transport → when it last became idle
        self._active: dict[Any, int] = {}
        self._protocols: dict[Any, asyncio.Protocol] = {}
        self._peers: dict[Any, str] = {}  # transport → peer address
        self._by_peer: dict[str, int] = {}
        self._task: asyncio.Task[None] | None = None
        self.refused = 0
        self.reaped = 0
        self._logged_at: float | None = None

    def __call__(self) -> asyncio.Protocol:
        return _Tracked(self)

    def admit(self, transport: Any) -> str | None:
        """Why a connection just made must be refused, or None (then it is counted)."""
        if len(self._protocols) >= self.max_connections:
            return f"connection cap of {self.max_connections} reached"
        peer = peer_address(transport)
        if self.per_address and peer and self._by_peer.get(peer, 0) >= self.per_address:
            return f"{peer} already holds {self.per_address} connections"
        if peer:
            self._peers[transport] = peer
            self._by_peer[peer] = self._by_peer.get(peer, 0) + 1
        return None

    def refuse(self, why: str) -> None:
        """Counted always, logged once a minute at most (a flood must not flood the log)."""
        self.refused += 1
        now = time.monotonic()
        if self._logged_at is None or now - self._logged_at >= REFUSAL_LOG_SECS:
            self._logged_at = now
            log.warning("%s: refusing (%d refused so far)", why, self.refused)

    def make_protocol(self) -> asyncio.Protocol:
        return self._factory()

    # -- bookkeeping -----------------------------------------------------------
    def opened(self, transport: Any, protocol: asyncio.Protocol) -> None:
        self._protocols[transport] = protocol
        self._idle_since[transport] = time.monotonic()

    def lost(self, transport: Any) -> None:
        self._protocols.pop(transport, None)
        self._idle_since.pop(transport, None)
        self._active.pop(transport, None)
        peer = self._peers.pop(transport, None)
        if peer is not None:
            left = self._by_peer.get(peer, 1) - 1
            if left > 0:
                self._by_peer[peer] = left
            else:
                self._by_peer.pop(peer, None)

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


def peer_address(transport: Any) -> str | None:
    """The peer's IP address ("" and None for what has none, e.g. a Unix socket)."""
    peer = transport.get_extra_info("peername") if transport is not None else None
    if isinstance(peer, tuple | list) and peer and isinstance(peer[0], str):
        return peer[0]
    return None


class _Tracked(asyncio.Protocol):
    """aiohttp's request handler, made only for an admitted connection, with the guard
    told when the connection opens and ends; a refused one gets a short 503."""

    def __init__(self, guard: ConnectionGuard) -> None:
        self._guard = guard
        self._inner: asyncio.Protocol | None = None
        self._transport: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        why = self._guard.admit(transport)
        if why is not None:
            self._guard.refuse(why)
            assert isinstance(transport, asyncio.WriteTransport)
            transport.write(_BUSY)
            transport.close()
            return
        self._transport = transport
        self._inner = self._guard.make_protocol()
        self._guard.opened(transport, self)
        self._inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._inner is None:
            return
        self._guard.lost(self._transport)
        self._inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._inner is not None:
            self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received() if self._inner is not None else None

    def pause_writing(self) -> None:
        if self._inner is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._inner is not None:
            self._inner.resume_writing()

"""The Wyoming TCP server: owns its connections and the zeroconf announcement."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from rtvi_edge.wyoming_server.connection import Connection, ServiceContext, send_error
from rtvi_edge.wyoming_server.zeroconf import Announcer

log = logging.getLogger(__name__)

MAX_CONNECTIONS = 16
STOP_GRACE_SECS = 2.0


class WyomingServer:
    def __init__(
        self,
        host: str,
        port: int,
        ctx: ServiceContext,
        announcer_for: Callable[[int], Announcer] | None = None,  # None: no zeroconf
    ) -> None:
        self.host = host
        self._wanted_port = port
        self._ctx = ctx
        self._announcer_for = announcer_for
        self._server: asyncio.Server | None = None
        self._connections: dict[asyncio.Task[None], asyncio.StreamWriter] = {}
        self._announcer: Announcer | None = None
        self._announcing: asyncio.Task[None] | None = None
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.host, self._wanted_port)
        self.port = int(self._server.sockets[0].getsockname()[1])
        log.info(
            "wyoming: serving %s on %s:%d",
            ", ".join(sorted(self._ctx.services)),
            self.host,
            self.port,
        )
        if self._announcer_for is not None:
            self._announcer = self._announcer_for(self.port)
            # Probing the network takes a second or more: the daemon does not wait for it.
            self._announcing = asyncio.create_task(self._announce(), name="wyoming-zeroconf")

    async def _announce(self) -> None:
        assert self._announcer is not None
        try:
            await self._announcer.start()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # zeroconf raises its own errors and OSError
            log.warning("wyoming: zeroconf announcement failed (add the device by hand): %s", exc)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(self._connections) >= MAX_CONNECTIONS:
            limit = f"at most {MAX_CONNECTIONS} connections at once: try again later"
            await send_error(writer, "too-many-connections", limit)
            writer.close()
            return
        # Run in a task of our own: on Python 3.11 asyncio logs an error if the task it
        # made for this callback ends cancelled, and stop() cancels stuck connections.
        conn = asyncio.create_task(Connection(reader, writer, self._ctx).run(), name="wyoming-conn")
        self._connections[conn] = writer
        try:
            await asyncio.wait([conn])
        finally:
            self._connections.pop(conn, None)

    @property
    def connections(self) -> int:
        return len(self._connections)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        if self._connections:
            # Closing the sockets ends each connection at its next read or write; one
            # still inside an engine call gets a moment to finish, then is cancelled.
            for writer in self._connections.values():
                writer.close()
            _done, stuck = await asyncio.wait(list(self._connections), timeout=STOP_GRACE_SECS)
            for task in stuck:
                task.cancel()
            if stuck:
                await asyncio.wait(stuck)
        if self._announcing is not None:
            self._announcing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._announcing
        if self._announcer is not None:
            await self._announcer.stop()
        if self._server is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), STOP_GRACE_SECS)
        log.info("wyoming: stopped")

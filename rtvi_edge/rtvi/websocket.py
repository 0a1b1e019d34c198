"""The WebSocket transport of an RTVI session: pipecat's protobuf frames, audio inside them."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from aiohttp import WSMsgType, web

from rtvi_edge.audio.sink import Pacer
from rtvi_edge.rtvi.protocol import Outgoing

if TYPE_CHECKING:
    from rtvi_edge.rtvi.session import RtviSession

log = logging.getLogger(__name__)


class WebSocketLink:
    """An aiohttp WebSocket as a session's `Link`."""

    def __init__(self, ws: web.WebSocketResponse, name: str = "") -> None:
        self.ws = ws
        self.name = name

    async def incoming(self) -> AsyncIterator[bytes | str]:
        async for msg in self.ws:
            if msg.type == WSMsgType.BINARY or msg.type == WSMsgType.TEXT:
                yield msg.data
            elif msg.type == WSMsgType.ERROR:
                log.info("session %s: websocket error %s", self.name, self.ws.exception())
                return

    async def send(self, data: Outgoing) -> None:
        if isinstance(data, str):
            await self.ws.send_str(data)
        else:
            await self.ws.send_bytes(data)

    async def close(self) -> None:
        await self.ws.close()


class WebSocketSink:
    """Bot audio to the client, paced in real time (the client never flushes its buffer)."""

    def __init__(self, session: RtviSession, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self._session = session
        self._pacer = Pacer(lead=0.08)

    async def play(self, pcm: bytes) -> None:
        await self._pacer.wait_turn(len(pcm) / 2 / self.sample_rate)
        self._session.write(self._session.protocol.audio(pcm, self.sample_rate))

    def buffered(self) -> float:
        return self._pacer.buffered()

    async def discard(self) -> None:
        self._pacer.reset()

"""A fixed UDP port range for WebRTC, so a firewall can open just that range.

aioice (0.13) binds every host candidate's socket to port 0: the kernel's ephemeral
range, the same for every program. It has no option for a range, so aiortc is
given a `Connection` that binds its host sockets in `[webrtc] port_min..port_max`
itself, then asks aioice for the rest: server-reflexive candidates (STUN, from
those same sockets) and the relayed one (TURN: an outgoing connection, so it
needs no open port). With no range it is aioice's own method, unchanged.

Every socket of a peer (one per offered address, since all media share one
bundle) is closed with its peer connection: the range is reused.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import errno
import ipaddress
import logging
import random
from collections.abc import Iterator
from typing import Any

import aioice.ice
from aioice import Candidate
from aioice.candidate import candidate_foundation, candidate_priority

from rtvi_edge.rtvi.webrtc.options import NoFreePort

log = logging.getLogger(__name__)

_range: tuple[int, int] | None = None
# Set while the device answers an offer: only its own sockets keep to the range (an
# aiortc client in the same process, as in the tests, binds where it likes).
_for_device: contextvars.ContextVar[bool] = contextvars.ContextVar("webrtc_device", default=False)


def use_port_range(ports: tuple[int, int] | None) -> None:
    """Host candidates of every later peer connection bind in `ports` (None: anywhere)."""
    global _range
    import aiortc.rtcicetransport

    _range = ports
    aiortc.rtcicetransport.Connection = RangeConnection  # type: ignore[attr-defined]
    if ports:
        log.info("WebRTC UDP ports %d-%d", *ports)


@contextlib.contextmanager
def device_sockets() -> Iterator[None]:
    """The peer connections gathered inside bind in the range, if one is set."""
    token = _for_device.set(True)
    try:
        yield
    finally:
        _for_device.reset(token)


async def bind_in_range(
    loop: asyncio.AbstractEventLoop, factory: Any, address: str, ports: tuple[int, int]
) -> tuple[asyncio.DatagramTransport, Any] | None:
    """A UDP socket on `address` at a free port of `ports`, tried from a random one."""
    lo, hi = ports
    size = hi - lo + 1
    first = random.randrange(size)
    for i in range(size):
        port = lo + (first + i) % size
        try:
            transport, protocol = await loop.create_datagram_endpoint(
                factory, local_addr=(address, port)
            )
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                continue
            log.info("cannot bind UDP on %s: %s", address, exc)  # as aioice: skip it
            return None
        return transport, protocol
    raise NoFreePort(f"every UDP port in [webrtc] port_min..port_max ({lo}-{hi}) is in use")


class RangeConnection(aioice.ice.Connection):  # type: ignore[misc]
    async def get_component_candidates(
        self, component: int, addresses: list[str], timeout: int = 5
    ) -> list[Candidate]:
        ports = _range if _for_device.get() else None
        if ports is None:
            return await super().get_component_candidates(component, addresses, timeout)
        loop = asyncio.get_running_loop()
        hosts: list[aioice.ice.StunProtocol] = []
        candidates: list[Candidate] = []
        try:
            for address in addresses:
                bound = await bind_in_range(
                    loop, lambda: aioice.ice.StunProtocol(self), address, ports
                )
                if bound is None:
                    continue
                transport, protocol = bound
                host, port = transport.get_extra_info("sockname")[:2]
                protocol.local_candidate = Candidate(
                    foundation=candidate_foundation("host", "udp", host),
                    component=component,
                    transport="udp",
                    priority=candidate_priority(component, "host"),
                    host=host,
                    port=port,
                    type="host",
                )
                hosts.append(protocol)
                candidates.append(protocol.local_candidate)
        except NoFreePort:
            for protocol in hosts:
                protocol.transport.close()
            raise
        self._protocols += hosts
        if self.stun_server:  # the same sockets, as the NAT maps them
            tasks = [
                asyncio.create_task(aioice.ice.server_reflexive_candidate(p, self.stun_server))
                for p in hosts
                if ipaddress.ip_address(p.local_candidate.host).version == 4
            ]
            if tasks:
                done, pending = await asyncio.wait(tasks, timeout=timeout)
                for task in pending:
                    task.cancel()
                candidates += [t.result()[0] for t in done if t.exception() is None]
        # The relayed candidate, if any: aioice's own (no host addresses: done above).
        return candidates + list(await super().get_component_candidates(component, [], timeout))

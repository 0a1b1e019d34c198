"""The WebRTC UDP port range: its validation, and binding inside it until it is full."""

from __future__ import annotations

import asyncio
import random

import pytest

from rtvi_edge.errors import ConfigError
from rtvi_edge.rtvi.webrtc.options import NoFreePort, check_range
from rtvi_edge.rtvi.webrtc.ports import bind_in_range


def test_the_range_is_both_ports_or_none() -> None:
    assert check_range(0, 0) is None
    assert check_range(40000, 40099) == (40000, 40099)
    assert check_range(40000, 40000) == (40000, 40000)
    with pytest.raises(ConfigError, match="set both"):
        check_range(40000, 0)
    with pytest.raises(ConfigError, match="set both"):
        check_range(80, 90)
    with pytest.raises(ConfigError, match="above port_max"):
        check_range(40100, 40000)


async def test_binds_inside_the_range_until_it_is_full() -> None:
    loop = asyncio.get_running_loop()
    low = random.randrange(20000, 30000, 10)
    ports = (low, low + 2)
    bound = []
    try:
        for _ in range(3):
            got = await bind_in_range(loop, asyncio.DatagramProtocol, "127.0.0.1", ports)
            assert got is not None
            bound.append(got[0])
        taken = sorted(t.get_extra_info("sockname")[1] for t in bound)
        assert taken == [low, low + 1, low + 2]
        with pytest.raises(NoFreePort, match=f"{low}-{low + 2}"):
            await bind_in_range(loop, asyncio.DatagramProtocol, "127.0.0.1", ports)
        bound.pop().close()  # a port given back is used again
        await asyncio.sleep(0)
        again = await bind_in_range(loop, asyncio.DatagramProtocol, "127.0.0.1", ports)
        assert again is not None
        bound.append(again[0])
    finally:
        for transport in bound:
            transport.close()


async def test_an_address_it_cannot_bind_is_skipped() -> None:
    loop = asyncio.get_running_loop()
    low = random.randrange(20000, 30000, 10)
    # 192.0.2.1 (TEST-NET-1) is no address of this machine: aioice skips it too
    assert await bind_in_range(loop, asyncio.DatagramProtocol, "192.0.2.1", (low, low)) is None

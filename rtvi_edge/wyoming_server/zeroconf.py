"""Announces the Wyoming server as `_wyoming._tcp.local.` so Home Assistant finds it."""

from __future__ import annotations

import contextlib
import logging
import socket

log = logging.getLogger(__name__)

SERVICE_TYPE = "_wyoming._tcp.local."
_MDNS_GROUP = "224.0.0.251"


def local_address() -> str:
    """The IPv4 address this machine reaches the LAN from (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect((_MDNS_GROUP, 5353))
            return str(probe.getsockname()[0])
        except OSError:
            return "127.0.0.1"


def instance_name(device_id: str) -> str:
    """A DNS-SD instance label: at most 63 bytes, no dots."""
    label = device_id.replace(".", "-")[:63] or "rtvi-edge"
    return f"{label}.{SERVICE_TYPE}"


class Announcer:
    """Registers the service on start, says goodbye on stop. `interface` "" means
    every interface (the announced address is the LAN one); an IPv4 address binds
    the announcement to that interface only (tests use 127.0.0.1)."""

    def __init__(self, device_id: str, port: int, interface: str = "") -> None:
        self.name = instance_name(device_id)
        self.port = port
        self.interface = interface
        self.address = interface or local_address()
        self._aiozc: object | None = None
        self._info: object | None = None

    async def start(self) -> None:
        from zeroconf import InterfaceChoice, IPVersion
        from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

        interfaces = [self.interface] if self.interface else InterfaceChoice.All
        aiozc = AsyncZeroconf(interfaces=interfaces, ip_version=IPVersion.V4Only)
        info = AsyncServiceInfo(
            SERVICE_TYPE,
            self.name,
            addresses=[socket.inet_aton(self.address)],
            port=self.port,
            server=f"{self.name.split('.')[0]}.local.",
        )
        self._aiozc, self._info = aiozc, info
        # Another device with the same name on the LAN: take "name (2)" rather than fail.
        registered = await aiozc.async_register_service(info, allow_name_change=True)
        await registered  # probing done, first announcement sent
        self.name = info.name
        log.info("wyoming: announced %s at %s:%d", self.name, self.address, self.port)

    async def stop(self) -> None:
        aiozc, info, self._aiozc, self._info = self._aiozc, self._info, None, None
        if aiozc is None:
            return
        from zeroconf.asyncio import AsyncZeroconf

        assert isinstance(aiozc, AsyncZeroconf)
        with contextlib.suppress(Exception):  # best effort: a goodbye nobody hears is fine
            if info is not None:
                await aiozc.async_unregister_service(info)  # type: ignore[arg-type]
        await aiozc.async_close()

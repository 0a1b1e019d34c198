"""`_esphomelib._tcp.local.`: how Home Assistant's ESPHome integration finds the device."""

from __future__ import annotations

import logging
import socket

from rtvi_edge.homeassistant.identity import ESPHOME_VERSION, PROJECT, DeviceIdentity
from rtvi_edge.homeassistant.noise import PROTOCOL_NAME

log = logging.getLogger(__name__)

SERVICE_TYPE = "_esphomelib._tcp.local."


def primary_address() -> str:
    """The address other machines reach us on (a UDP connect sends nothing)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("224.0.0.251", 5353))
            return str(probe.getsockname()[0])
        except OSError:
            return "127.0.0.1"


class EsphomeAnnouncement:
    def __init__(self, identity: DeviceIdentity, host: str, port: int, encrypted: bool) -> None:
        self.identity = identity
        self.host = host
        self.port = port
        self.encrypted = encrypted
        self._zc: object | None = None
        self._info: object | None = None

    async def start(self) -> None:
        from zeroconf import IPVersion
        from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

        any_host = self.host in ("", "0.0.0.0", "::")
        address = primary_address() if any_host else self.host
        ident = self.identity
        properties = {
            "version": ESPHOME_VERSION,
            "mac": ident.mac_hex,
            "platform": "HOST",
            "board": "host",
            "network": "ethernet",
            "friendly_name": ident.friendly_name,
            "project_name": PROJECT,
            "project_version": ident.version,
        }
        if self.encrypted:
            properties["api_encryption"] = PROTOCOL_NAME.decode()
        info = AsyncServiceInfo(
            SERVICE_TYPE,
            f"{ident.name}.{SERVICE_TYPE}",
            addresses=[socket.inet_aton(address)],
            port=self.port,
            properties=properties,
            server=f"{ident.name}.local.",
        )
        zc = (
            AsyncZeroconf(ip_version=IPVersion.V4Only)
            if any_host
            else AsyncZeroconf(interfaces=[self.host], ip_version=IPVersion.V4Only)
        )
        await zc.async_register_service(info)
        self._zc, self._info = zc, info
        log.info("announced %s on %s:%d over zeroconf", info.name, address, self.port)

    async def stop(self) -> None:
        from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

        zc, info = self._zc, self._info
        self._zc = self._info = None
        if isinstance(zc, AsyncZeroconf):
            if isinstance(info, AsyncServiceInfo):
                await zc.async_unregister_service(info)
            await zc.async_close()

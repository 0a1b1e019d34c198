"""ICE for the device's peers: which servers, and which local addresses are offered.

On a LAN the host candidates are all it takes: no STUN server, nothing on the
internet (aiortc would use Google's STUN server when given none: it is always
given an explicit list here). `host_addresses` narrows the host candidates to
the named addresses; aioice offers no option for that, so its address lookup is
wrapped once per process (tests keep every RTP socket on 127.0.0.1 this way).
"""

from __future__ import annotations

import logging

from aiortc import RTCIceServer

from rtvi_edge.config import WebRtcConfig
from rtvi_edge.rtvi.webrtc.options import ice_entries

log = logging.getLogger(__name__)

_only: tuple[str, ...] = ()


def ice_servers(config: WebRtcConfig) -> list[RTCIceServer]:
    """The servers the device uses (and tells clients about in /start)."""
    return [RTCIceServer(**entry) for entry in ice_entries(config)]


def restrict_host_addresses(addresses: tuple[str, ...]) -> None:
    """Offer host candidates on these addresses only (() = every interface, aioice's way)."""
    global _only
    import aioice.ice

    _only = addresses
    current = aioice.ice.get_host_addresses
    if getattr(current, "__rtvi_edge__", False):
        return
    original = current

    def get_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        if not _only:
            return original(use_ipv4=use_ipv4, use_ipv6=use_ipv6)
        return [a for a in _only if (":" in a and use_ipv6) or (":" not in a and use_ipv4)]

    get_host_addresses.__rtvi_edge__ = True  # type: ignore[attr-defined]
    aioice.ice.get_host_addresses = get_host_addresses
    if addresses:
        log.info("WebRTC host candidates on %s only", ", ".join(addresses))

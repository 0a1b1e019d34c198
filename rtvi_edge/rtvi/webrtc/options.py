"""The `[webrtc]` settings checked and shown without the WebRTC stack.

aiortc, PyAV, cryptography and SRTP hold ~19 MiB once imported; routes.py imports
them at the first offer (issue 25), so a bad setting must still be a ConfigError at
start-up and `/start` must answer without them: these checks need nothing but config.
"""

from __future__ import annotations

from typing import Any

from rtvi_edge.config import WebRtcConfig
from rtvi_edge.errors import ConfigError, RtviEdgeError

_SCHEMES = ("stun:", "stuns:", "turn:", "turns:")


class NoFreePort(RtviEdgeError):
    """Every UDP port of the configured range is taken: no new peer until one is freed."""


def check_ice_urls(config: WebRtcConfig) -> None:
    for url in config.ice_servers:
        if not url.startswith(_SCHEMES):
            raise ConfigError([f"[webrtc] ice_servers: {url!r} must start with stun: or turn:"])


def check_range(port_min: int, port_max: int) -> tuple[int, int] | None:
    """The range from `[webrtc] port_min/port_max`: None for 0/0 (the kernel picks)."""
    if port_min == 0 and port_max == 0:
        return None
    if port_min < 1024 or port_max < 1024:
        raise ConfigError(
            ["[webrtc] port_min and port_max: set both (>= 1024), or both to 0 for any port"]
        )
    if port_min > port_max:
        raise ConfigError([f"[webrtc] port_min {port_min} is above port_max {port_max}"])
    return port_min, port_max


def ice_entries(config: WebRtcConfig) -> list[dict[str, Any]]:
    """RTCIceServer's fields for each configured URL: a TURN server gets the credentials.
    The one mapping behind aiortc's servers (ice.py) and the browser's (`/start`)."""
    check_ice_urls(config)
    out: list[dict[str, Any]] = []
    for url in config.ice_servers:
        entry: dict[str, Any] = {"urls": url}
        if url.startswith("turn"):
            entry["username"] = config.turn_username or None
            entry["credential"] = config.turn_password or None
        out.append(entry)
    return out


def client_ice_config(config: WebRtcConfig) -> dict[str, Any]:
    """`iceConfig` for a /start answer, in the browser's RTCIceServer shape: credentials
    only with a user name, no empty fields."""
    entries = ice_entries(config)
    return {"iceServers": [e if e.get("username") else {"urls": e["urls"]} for e in entries]}

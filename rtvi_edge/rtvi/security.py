"""Who may do what on the RTVI port: the pairing token and the origin policy.

Secure by default on a LAN: a random pairing token is made at first start and
kept in the state directory. A client that shows it (`?token=`, a Bearer header
or `token` in the /start body) is *paired*: it may change device-wide settings
and run actions. Anyone else may still talk to the assistant. A connection from
the device itself (loopback address and loopback Host, no foreign Origin) counts
as paired, so the page the device serves works there without typing anything.
Web pages from other origins are refused unless configured, or paired.
`[rtvi] open_device = true` turns the token off.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import secrets
import sys
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from urllib.parse import urlsplit

from rtvi_edge.config import Config, default_state_dir
from rtvi_edge.errors import RtviEdgeError

log = logging.getLogger(__name__)

TOKEN_FILE = "pairing-token"
SERVICE_STATE_DIR = Path("/var/lib/rtvi-edge")  # systemd's StateDirectory=rtvi-edge


def print_token(config: Config, new: bool = False) -> int:
    """`rtvi-edge token`: the token clients type (a restart picks up a new one)."""
    if config.rtvi.token:
        if new:
            raise RtviEdgeError(
                "the token is set in the config file ([rtvi] token); change it there"
            )
        print(config.rtvi.token)
        return 0
    state_dir = default_state_dir(config)
    from_shell = not config.device.state_dir and not os.environ.get("STATE_DIRECTORY")
    if from_shell and (SERVICE_STATE_DIR / TOKEN_FILE).exists():  # the systemd service's
        state_dir = SERVICE_STATE_DIR
    try:
        print(load_or_create_token(state_dir, new))
    except OSError as exc:
        raise RtviEdgeError(
            f"cannot read the pairing token in {state_dir}: {exc} "
            "(run as the service's user, e.g. sudo -u rtvi-edge rtvi-edge token)"
        ) from None
    if new:
        print("restart the daemon to use it", file=sys.stderr)
    if config.rtvi.open_device:
        print("note: [rtvi] open_device = true, so no token is needed", file=sys.stderr)
    return 0


def load_or_create_token(state_dir: Path, new: bool = False) -> str:
    """The device's pairing token, made (owner-only file) on first use or when `new`."""
    path = state_dir / TOKEN_FILE
    if not new:
        try:
            token = path.read_text(encoding="utf-8").strip()
            if token:
                return token
        except FileNotFoundError:
            pass
    token = secrets.token_urlsafe(18)
    state_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(token + "\n")
    os.replace(tmp, path)
    log.info("made a new pairing token in %s", path)
    return token


class Access(Enum):
    PAIRED = "paired"  # may change the device and run actions
    GUEST = "guest"  # may converse
    FORBIDDEN_ORIGIN = "forbidden-origin"
    WRONG_TOKEN = "wrong-token"


@dataclass(frozen=True)
class Caller:
    """What one HTTP request says about itself."""

    remote: str | None  # peer address
    host: str  # the Host header
    origin: str | None  # the Origin header (browsers only)
    token: str | None  # offered token, if any


def _is_loopback_address(address: str | None) -> bool:
    if not address:
        return False
    try:
        return ipaddress.ip_address(address.split("%")[0]).is_loopback
    except ValueError:
        return False


def _host_name(host: str) -> str:
    return (urlsplit(f"//{host}").hostname or "").lower()


def _is_loopback_host(host: str) -> bool:
    name = _host_name(host)
    return name == "localhost" or _is_loopback_address(name)


class Policy:
    def __init__(
        self,
        token: str,
        allowed_origins: tuple[str, ...],
        open_device: bool = False,
        trust_loopback: bool = True,
    ) -> None:
        self.configure(token, allowed_origins, open_device, trust_loopback)

    def configure(
        self, token: str, allowed_origins: tuple[str, ...], open_device: bool, trust_loopback: bool
    ) -> None:
        """The settings, at start and after each change (the routes hold this object)."""
        self.token = token
        self.allowed_origins = tuple(o.rstrip("/").lower() for o in allowed_origins)
        self.open_device = open_device
        self.trust_loopback = trust_loopback

    def token_ok(self, offered: str | None) -> bool:
        return bool(offered) and hmac.compare_digest(
            (offered or "").encode("utf-8", "replace"), self.token.encode()
        )

    def origin_configured(self, origin: str | None) -> bool:
        """An origin the config allows by name (CORS is answered for these only)."""
        if origin is None:
            return False
        return "*" in self.allowed_origins or origin.rstrip("/").lower() in self.allowed_origins

    def same_origin(self, caller: Caller) -> bool:
        if caller.origin is None:
            return False
        origin = urlsplit(caller.origin)
        return bool(origin.netloc) and origin.netloc.lower() == caller.host.lower()

    def decide(self, caller: Caller) -> Access:
        if caller.token and not self.token_ok(caller.token):
            return Access.WRONG_TOKEN  # a wrong token is never silently downgraded
        paired = self.open_device or bool(caller.token)
        origin = caller.origin
        browser_ok = origin is None or self.same_origin(caller) or self.origin_configured(origin)
        if not browser_ok and not paired:
            return Access.FORBIDDEN_ORIGIN
        if paired:
            return Access.PAIRED
        if (
            self.trust_loopback
            and (caller.origin is None or self.same_origin(caller))
            and _is_loopback_address(caller.remote)
            and _is_loopback_host(caller.host)
        ):
            return Access.PAIRED  # the device itself
        return Access.GUEST

    def shows_token(self, caller: Caller) -> bool:
        """The served page shows the token only to the device itself."""
        return (
            self.trust_loopback
            and _is_loopback_address(caller.remote)
            and _is_loopback_host(caller.host)
        )

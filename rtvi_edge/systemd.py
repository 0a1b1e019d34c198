"""sd_notify: tell systemd we are ready, reloading, alive (watchdog) or stopping.

Uses `systemd.daemon.notify` when systemd-python is installed, else sends the datagram to
`$NOTIFY_SOCKET` itself (the protocol is one AF_UNIX datagram of `KEY=value` lines). Outside
systemd every method is a cheap no-op. A vanished socket never raises into the daemon: it is
logged once and later messages are dropped quietly.
"""

from __future__ import annotations

import importlib
import logging
import os
import socket
import time
from collections.abc import Callable, Mapping

log = logging.getLogger(__name__)

Sender = Callable[[str], None]


def _libsystemd_sender() -> Sender | None:
    try:
        daemon = importlib.import_module("systemd.daemon")
    except ImportError:  # not installed (or only the repo's systemd/ folder is on the path)
        return None
    notify = getattr(daemon, "notify", None)
    if notify is None:
        return None

    def send(state: str) -> None:
        if not notify(state):  # False: libsystemd found no $NOTIFY_SOCKET
            raise ConnectionError("sd_notify was not delivered")

    return send


def socket_address(value: str) -> str:
    """`@name` is Linux's abstract namespace: a leading NUL byte on the wire."""
    return "\0" + value[1:] if value.startswith("@") else value


def _datagram_sender(address: str) -> Sender:
    def send(state: str) -> None:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.sendto(state.encode(), socket_address(address))

    return send


def _one_line(text: str) -> str:
    # A newline would start a new KEY=value assignment in the message.
    return " ".join(text.splitlines())


def monotonic_usec() -> int:
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


class Notifier:
    """The daemon's side of sd_notify(3); see `rtvi_edge.daemon.Notify`."""

    def __init__(
        self, environ: Mapping[str, str] | None = None, *, prefer_libsystemd: bool = True
    ) -> None:
        env = os.environ if environ is None else environ
        self._address = env.get("NOTIFY_SOCKET", "")
        self._watchdog_usec = env.get("WATCHDOG_USEC", "")
        self._watchdog_pid = env.get("WATCHDOG_PID", "")
        self._warned = False
        self._send: Sender | None = None
        if not self._address:
            return
        # libsystemd reads os.environ itself, so it only fits when that is our source too.
        if prefer_libsystemd and environ is None:
            self._send = _libsystemd_sender()
        if self._send is None:
            if not self._address.startswith(("/", "@")):  # e.g. vsock: (systemd >= 254)
                log.warning("NOTIFY_SOCKET %r is not a unix socket; not notifying", self._address)
                return
            self._send = _datagram_sender(self._address)

    @property
    def enabled(self) -> bool:
        return self._send is not None

    @property
    def watchdog_interval(self) -> float | None:
        """Seconds between pings: half of WatchdogSec=, as sd_watchdog_enabled(3) advises."""
        if self._send is None or not self._watchdog_usec:
            return None
        if self._watchdog_pid and self._watchdog_pid != str(os.getpid()):
            return None  # the watchdog is meant for another process (e.g. our parent)
        try:
            usec = int(self._watchdog_usec)
        except ValueError:
            log.warning("ignoring invalid WATCHDOG_USEC=%r", self._watchdog_usec)
            return None
        return usec / 2 / 1_000_000 if usec > 0 else None

    def ready(self, status: str) -> None:
        self._notify(f"READY=1\nSTATUS={_one_line(status)}")

    def status(self, text: str) -> None:
        self._notify(f"STATUS={_one_line(text)}")

    def watchdog(self) -> None:
        self._notify("WATCHDOG=1")

    def reloading(self) -> None:
        # systemd >= 253 (Type=notify-reload) wants the timestamp to tell reloads apart;
        # older versions ignore the field.
        self._notify(f"RELOADING=1\nMONOTONIC_USEC={monotonic_usec()}")

    def ready_after_reload(self) -> None:
        self._notify("READY=1")

    def stopping(self, status: str) -> None:
        self._notify(f"STOPPING=1\nSTATUS={_one_line(status)}")

    def _notify(self, state: str) -> None:
        if self._send is None:
            return
        try:
            self._send(state)
        except OSError as exc:
            if not self._warned:
                self._warned = True
                log.warning("cannot notify systemd at %s: %s", self._address, exc)

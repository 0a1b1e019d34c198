"""One blocking Wyoming connection (JSON header line + payload per event) to a
speech server on the LAN, with errors that name the config key to fix."""

from __future__ import annotations

import contextlib
import socket
import urllib.parse
from typing import Any

from rtvi_edge.engines.remote_http import RemoteError
from rtvi_edge.errors import ConfigError


def parse_tcp_url(section: str, url: str) -> tuple[str, int]:
    parts = urllib.parse.urlsplit(url)
    if not url:
        raise ConfigError([f"[{section}] base_url: required by engine = 'wyoming'"])
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme != "tcp" or not parts.hostname or port is None:
        raise ConfigError([f"[{section}] base_url = {url!r}: must look like tcp://HOST:PORT"])
    return parts.hostname, port


class WyomingLink:
    """A connection for one request; use as a context manager."""

    def __init__(self, section: str, url: str, timeout: float) -> None:
        self.section = section
        self.url = url
        self.host, self.port = parse_tcp_url(section, url)
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._file: Any = None

    def where(self) -> str:
        return f"[{self.section}] base_url = {self.url!r}"

    def __enter__(self) -> WyomingLink:
        try:
            self._sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        except ConnectionRefusedError:
            raise RemoteError(
                f"{self.where()}: connection refused (is the server running?)"
            ) from None
        except socket.gaierror as exc:
            raise RemoteError(f"{self.where()}: unknown host ({exc.strerror})") from None
        except OSError as exc:
            raise RemoteError(f"{self.where()}: {exc.strerror or exc}") from None
        self._file = self._sock.makefile("rwb")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
        if self._sock is not None:
            self._sock.close()

    def send(self, *events: object) -> None:
        from wyoming.event import Eventable, write_event

        assert self._file is not None
        try:
            for e in events:
                assert isinstance(e, Eventable)
                write_event(e.event(), self._file)
            self._file.flush()
        except OSError as exc:
            raise RemoteError(f"{self.where()}: the server hung up ({exc})") from None

    def receive(self) -> object:
        """The next event (wyoming.event.Event); RemoteError on a closed or bad stream."""
        from wyoming.event import read_event

        assert self._file is not None
        try:
            event = read_event(self._file)
        except TimeoutError:
            raise RemoteError(f"{self.where()}: no answer within {self.timeout:g} s") from None
        except OSError as exc:
            raise RemoteError(f"{self.where()}: the server hung up ({exc})") from None
        except (ValueError, KeyError, UnicodeDecodeError) as exc:
            raise RemoteError(
                f"{self.where()}: not a Wyoming server (garbled event: {exc})"
            ) from None
        if event is None:
            raise RemoteError(f"{self.where()}: the server closed the connection")
        if event.type == "error":
            text = (event.data or {}).get("text", "")
            raise RemoteError(f"{self.where()}: the server failed: {text}")
        return event


def describe(section: str, url: str, timeout: float) -> object:
    """The server's `info` event (a health check)."""
    from wyoming.info import Describe

    with WyomingLink(section, url, timeout) as link:
        link.send(Describe())
        event = link.receive()
    if getattr(event, "type", "") != "info":
        raise RemoteError(f"[{section}] base_url = {url!r}: answered {event!r} to describe")
    return event

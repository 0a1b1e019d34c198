"""Wyoming framing, sans-I/O: bytes in, events out (and back), with hard limits.

A frame is one JSON header line, then `data_length` bytes of JSON merged into
the header's `data`, then `payload_length` bytes of payload (audio). The
`wyoming` package's own reader closes the connection silently on anything
malformed and buffers whatever length a peer announces; this decoder names
the problem and bounds every length, so the server can answer with an error.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from wyoming.event import Event
from wyoming.version import __version__ as PROTOCOL_VERSION

from rtvi_edge.errors import ProtocolError


class WyomingProtocolError(ProtocolError):
    """A peer sent something that is not a Wyoming frame.

    `fatal`: the byte stream can no longer be followed (the connection must
    close); otherwise the bad frame was skipped whole and reading goes on."""

    def __init__(self, code: str, message: str, fatal: bool) -> None:
        super().__init__(message)
        self.code = code
        self.fatal = fatal


@dataclass(frozen=True)
class Limits:
    max_header_bytes: int = 64 * 1024
    max_data_bytes: int = 256 * 1024
    max_payload_bytes: int = 4 * 1024 * 1024  # one audio chunk; clients send a few KiB


@dataclass
class _Header:
    type: str
    data: dict[str, Any]
    data_length: int
    payload_length: int


class FrameDecoder:
    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self._buffer = bytearray()
        self._header: _Header | None = None

    def feed(self, data: bytes) -> None:
        self._buffer += data

    def next_event(self) -> Event | None:
        """The next whole event, or None until more bytes arrive.

        Raises WyomingProtocolError for a malformed frame."""
        if self._header is None:
            self._header = self._read_header()
            if self._header is None:
                return None
        header = self._header
        need = header.data_length + header.payload_length
        if len(self._buffer) < need:
            return None
        self._header = None
        data_bytes = bytes(self._buffer[: header.data_length])
        payload = bytes(self._buffer[header.data_length : need])
        del self._buffer[:need]
        data = header.data
        if data_bytes:
            extra = _json_object(data_bytes, "data")
            data = {**data, **extra}
        return Event(type=header.type, data=data, payload=payload or None)

    def _read_header(self) -> _Header | None:
        end = self._buffer.find(b"\n")
        if end < 0:
            if len(self._buffer) > self.limits.max_header_bytes:
                raise WyomingProtocolError(
                    "header-too-long",
                    f"no end of line within {self.limits.max_header_bytes} bytes: "
                    "not a Wyoming event header",
                    fatal=True,
                )
            return None
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 1]
        if len(line) > self.limits.max_header_bytes:
            raise WyomingProtocolError(
                "header-too-long",
                f"event header of {len(line)} bytes (at most {self.limits.max_header_bytes})",
                fatal=False,
            )
        if not line.strip():
            return None  # blank line between frames: tolerated
        header = _json_object(line, "header")
        etype = header.get("type")
        if not isinstance(etype, str) or not etype:
            raise WyomingProtocolError(
                "bad-header", 'event header has no "type" string', fatal=False
            )
        data = header.get("data") or {}
        if not isinstance(data, dict):
            raise WyomingProtocolError(
                "bad-header", f'"data" of {etype!r} is not a JSON object', fatal=False
            )
        data_length = _length(header, "data_length", self.limits.max_data_bytes)
        payload_length = _length(header, "payload_length", self.limits.max_payload_bytes)
        return _Header(etype, data, data_length, payload_length)


def _json_object(raw: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        preview = raw[:40].decode("utf-8", "replace")
        raise WyomingProtocolError(
            "bad-json", f"event {what} is not JSON: {preview!r}", fatal=False
        ) from None
    if not isinstance(value, dict):
        raise WyomingProtocolError("bad-json", f"event {what} is not a JSON object", fatal=False)
    return value


def _length(header: dict[str, Any], key: str, limit: int) -> int:
    value = header.get(key)
    if value is None:
        return 0
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise WyomingProtocolError(
            "bad-length", f"{key} = {value!r}: must be a byte count", fatal=True
        )
    if value > limit:
        raise WyomingProtocolError(
            "too-large", f"{key} = {value} bytes: at most {limit} accepted", fatal=True
        )
    return value


def encode_event(event: Event) -> bytes:
    """The wire form of one event (as `wyoming.event.async_write_event` writes it)."""
    header: dict[str, Any] = {"type": event.type, "version": PROTOCOL_VERSION}
    data_bytes = b""
    if event.data:
        data_bytes = json.dumps(event.data, ensure_ascii=False).encode("utf-8")
        header["data_length"] = len(data_bytes)
    if event.payload:
        header["payload_length"] = len(event.payload)
    line = json.dumps(header, ensure_ascii=False).encode("utf-8") + b"\n"
    return line + data_bytes + (event.payload or b"")

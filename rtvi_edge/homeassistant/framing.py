"""ESPHome native API plaintext framing, sans-I/O.

A frame is `0x00`, the payload length (varint), the message type (varint),
then the protobuf payload. `PlaintextCodec.feed` takes bytes as they come
and returns whole frames; anything else raises `ProtocolError` with the reason,
and the connection is closed by its owner.
"""

from __future__ import annotations

from dataclasses import dataclass

from rtvi_edge.errors import ProtocolError
from rtvi_edge.varint import decode_varint, encode_varint

MAX_PAYLOAD = 1 << 20  # no API message comes near it; a bigger length is garbage
# What ESPHome answers a frame that does not start with 0x00: a Noise client reads the
# 0x00 as "this device speaks plaintext" (aioesphomeapi's EncryptionPlaintextAPIError).
BAD_INDICATOR_REPLY = b"\x00Bad indicator byte"


@dataclass(frozen=True)
class Frame:
    msg_type: int
    payload: bytes


def read_varint(buf: bytes | bytearray, pos: int) -> tuple[int, int] | None:
    """(value, next position), or None when the buffer ends first (at most 5 bytes:
    the API's lengths and types are 32-bit)."""
    return decode_varint(buf, pos, max_bytes=5)


def encode_plaintext(msg_type: int, payload: bytes) -> bytes:
    return b"\x00" + encode_varint(len(payload)) + encode_varint(msg_type) + payload


class PlaintextCodec:
    """Frames in, frames out, no encryption (the API without an encryption key)."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._out = b""

    def take_output(self) -> bytes:
        out, self._out = self._out, b""  # only ever the bad-indicator reply
        return out

    def encode(self, msg_type: int, payload: bytes) -> bytes:
        return encode_plaintext(msg_type, payload)

    def feed(self, data: bytes) -> list[Frame]:
        self._buf += data
        frames: list[Frame] = []
        while self._buf:
            if self._buf[0] != 0x00:
                self._out = BAD_INDICATOR_REPLY
            if self._buf[0] == 0x01:
                raise ProtocolError(
                    "the client speaks the encrypted (Noise) API, but this device has no "
                    "encryption key: remove the key in Home Assistant or set "
                    "[homeassistant] encryption_key"
                )
            if self._buf[0] != 0x00:
                raise ProtocolError(f"bad frame preamble 0x{self._buf[0]:02x} (expected 0x00)")
            length = read_varint(self._buf, 1)
            if length is None:
                break
            size, pos = length
            if size > MAX_PAYLOAD:
                raise ProtocolError(f"frame of {size} bytes is over the {MAX_PAYLOAD} byte limit")
            kind = read_varint(self._buf, pos)
            if kind is None:
                break
            msg_type, pos = kind
            if len(self._buf) < pos + size:
                break
            frames.append(Frame(msg_type, bytes(self._buf[pos : pos + size])))
            del self._buf[: pos + size]
        return frames

"""Protobuf base-128 varints: the RTVI frames and the ESPHome API both write and read them."""

from __future__ import annotations

from rtvi_edge.errors import ProtocolError


def encode_varint(value: int) -> bytes:
    if value < 0:
        raise ValueError("varints are unsigned")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def decode_varint(buf: bytes | bytearray, pos: int, max_bytes: int = 10) -> tuple[int, int] | None:
    """(value, next position), or None when the buffer ends first; a varint longer
    than `max_bytes` is a `ProtocolError`."""
    value = shift = 0
    while pos < len(buf):
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift >= 7 * max_bytes:
            raise ProtocolError(f"varint longer than {max_bytes} bytes")
    return None

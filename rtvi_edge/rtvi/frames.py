"""pipecat's `frames.proto` on the wire, encoded and decoded by hand (sans-I/O).

message Frame { oneof frame { TextFrame text = 1; AudioRawFrame audio = 2;
  TranscriptionFrame transcription = 3; MessageFrame message = 4;
  InterruptionFrame interruption = 5; } }
AudioRawFrame { uint64 id = 1; string name = 2; bytes audio = 3;
  uint32 sample_rate = 4; uint32 num_channels = 5; optional uint64 pts = 6; }
MessageFrame { string data = 1; }
Only five small messages: a hand-written codec is shorter than generated code
and keeps protobuf out of the dependencies.
"""

from __future__ import annotations

from dataclasses import dataclass

from rtvi_edge.errors import ProtocolError
from rtvi_edge.varint import decode_varint, encode_varint

_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5
KIND_NAMES = {1: "text", 2: "audio", 3: "transcription", 4: "message", 5: "interruption"}


@dataclass(frozen=True)
class AudioFrame:
    audio: bytes
    sample_rate: int
    num_channels: int


@dataclass(frozen=True)
class MessageFrame:
    data: str


@dataclass(frozen=True)
class OtherFrame:
    """A valid frame of a kind the server does not take from clients (text, ...)."""

    kind: str


Frame = AudioFrame | MessageFrame | OtherFrame


# -- encoding --------------------------------------------------------------
def _key(field: int, wire: int) -> bytes:
    return encode_varint(field << 3 | wire)


def _len_field(field: int, payload: bytes) -> bytes:
    return _key(field, _LEN) + encode_varint(len(payload)) + payload


def encode_audio(audio: bytes, sample_rate: int, num_channels: int = 1) -> bytes:
    inner = (
        _len_field(2, b"audio")
        + _len_field(3, audio)
        + _key(4, _VARINT)
        + encode_varint(sample_rate)
        + _key(5, _VARINT)
        + encode_varint(num_channels)
    )
    return _len_field(2, inner)


def encode_message(data: str) -> bytes:
    # "replace": a stray surrogate must not end the session that is being answered
    return _len_field(4, _len_field(1, data.encode("utf-8", "replace")))


# -- decoding ----------------------------------------------------------------
def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    got = decode_varint(buf, pos)
    if got is None:
        raise ProtocolError("truncated varint")
    return got


def _fields(buf: bytes) -> list[tuple[int, int, int | bytes]]:
    """(field number, wire type, value) for every field of one message."""
    out: list[tuple[int, int, int | bytes]] = []
    pos = 0
    while pos < len(buf):
        key, pos = _read_varint(buf, pos)
        field, wire = key >> 3, key & 7
        if field == 0:
            raise ProtocolError("field number 0")
        if wire == _VARINT:
            value, pos = _read_varint(buf, pos)
            out.append((field, wire, value))
        elif wire == _LEN:
            size, pos = _read_varint(buf, pos)
            if pos + size > len(buf):
                raise ProtocolError("truncated length-delimited field")
            out.append((field, wire, buf[pos : pos + size]))
            pos += size
        elif wire in (_I64, _I32):
            size = 8 if wire == _I64 else 4
            if pos + size > len(buf):
                raise ProtocolError("truncated fixed-size field")
            pos += size
        else:
            raise ProtocolError(f"unsupported wire type {wire}")
    return out


def decode_frame(data: bytes) -> Frame:
    """Decode one WebSocket binary message; raises ProtocolError if it is not a Frame."""
    frame: Frame | None = None
    for field, wire, value in _fields(data):
        if wire != _LEN or not isinstance(value, bytes) or field not in KIND_NAMES:
            continue  # unknown fields are skipped, as protobuf does
        if field == 2:
            frame = _decode_audio(value)
        elif field == 4:
            text = b""
            for f, w, v in _fields(value):
                if f == 1 and w == _LEN and isinstance(v, bytes):
                    text = v
            try:
                frame = MessageFrame(text.decode("utf-8"))
            except UnicodeDecodeError as exc:
                raise ProtocolError("message frame data is not UTF-8") from exc
        else:
            _fields(value)  # still must be well-formed
            frame = OtherFrame(KIND_NAMES[field])
    if frame is None:
        raise ProtocolError("not a pipecat Frame (no known frame kind set)")
    return frame


def _decode_audio(buf: bytes) -> AudioFrame:
    audio, rate, channels = b"", 16000, 1
    for f, w, v in _fields(buf):
        if f == 3 and w == _LEN and isinstance(v, bytes):
            audio = v
        elif f == 4 and w == _VARINT and isinstance(v, int):
            rate = v
        elif f == 5 and w == _VARINT and isinstance(v, int):
            channels = v
    return AudioFrame(audio, rate, channels)

"""The encrypted ESPHome API transport (Noise_NNpsk0_25519_ChaChaPoly_SHA256), responder side.

Sans-I/O, like `framing.PlaintextCodec`: `feed` takes bytes, returns whole
messages; `take_output` hands back what the handshake must send. Frames are
`0x01`, a 2-byte big-endian length, then the frame. The client opens with an
empty frame (its hello) and the first handshake message; we answer with our
hello (protocol 1, name, MAC) and the second handshake message. After that
each frame is encrypted `type (2 bytes) + length (2 bytes) + payload`.
Anything else before that is refused with ESPHome's own reject frame (`0x01` and
its reason), which aioesphomeapi turns into the error HA shows: a plaintext
client is told "encryption required", a wrong key "invalid key".
"""

from __future__ import annotations

import base64
import binascii
import enum
from typing import Any, NoReturn

from rtvi_edge.errors import ConfigError, ProtocolError
from rtvi_edge.homeassistant.framing import Frame

PROTOCOL_NAME = b"Noise_NNpsk0_25519_ChaChaPoly_SHA256"
PROLOGUE = b"NoiseAPIInit\x00\x00"
MAX_FRAME = 0xFFFF
MAX_HANDSHAKE_FRAME = 128  # ESPHome's limit before the session is up


def decode_key(key: str) -> bytes:
    """The 32-byte pre-shared key from its base64 form (ESPHome's `api: encryption: key`)."""
    try:
        raw = base64.b64decode(key, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise ConfigError(
            [
                "[homeassistant] encryption_key: must be 32 random bytes in base64 "
                "(e.g. `openssl rand -base64 32`)"
            ]
        )
    return raw


class _State(enum.Enum):
    HELLO = "hello"
    HANDSHAKE = "handshake"
    READY = "ready"
    FAILED = "failed"


class NoiseCodec:
    def __init__(self, psk: bytes, name: str, mac: str) -> None:
        from noise.connection import NoiseConnection  # noiseprotocol, via aioesphomeapi

        self._proto: Any = NoiseConnection.from_name(PROTOCOL_NAME)
        self._proto.set_as_responder()
        self._proto.set_psks(psk)
        self._proto.set_prologue(PROLOGUE)
        self._proto.start_handshake()
        self._name = name.encode()
        self._mac = mac.encode()
        self._state = _State.HELLO
        self._buf = bytearray()
        self._out = bytearray()

    @property
    def ready(self) -> bool:
        return self._state is _State.READY

    def take_output(self) -> bytes:
        out, self._out = bytes(self._out), bytearray()
        return out

    def encode(self, msg_type: int, payload: bytes) -> bytes:
        if not self.ready:
            raise ProtocolError("the encrypted handshake is not finished")
        if len(payload) > MAX_FRAME - 4 - 16:
            raise ProtocolError(f"a {len(payload)} byte message does not fit a Noise frame")
        header = bytes((msg_type >> 8, msg_type & 0xFF, len(payload) >> 8, len(payload) & 0xFF))
        return _frame(self._proto.encrypt(header + payload))

    def feed(self, data: bytes) -> list[Frame]:
        if self._state is _State.FAILED:
            return []  # the reject is sent; the owner closes the connection
        self._buf += data
        frames: list[Frame] = []
        while len(self._buf) >= 3:
            if self._buf[0] != 0x01:
                self._bad_indicator(self._buf[0])
            size = (self._buf[1] << 8) | self._buf[2]
            if not self.ready and size > MAX_HANDSHAKE_FRAME:
                self._fail("Bad handshake packet len")
            if len(self._buf) < 3 + size:
                break
            body = bytes(self._buf[3 : 3 + size])
            del self._buf[: 3 + size]
            frame = self._handle(body)
            if frame is not None:
                frames.append(frame)
        return frames

    def _bad_indicator(self, byte: int) -> NoReturn:
        if self.ready:  # ESPHome sends no reject once the session is up
            self._state = _State.FAILED
            raise ProtocolError(f"bad frame preamble 0x{byte:02x} (expected 0x01)")
        # As ESPHome: a handshake reject the client reads. To a plaintext client its first
        # byte (0x01) means "encryption required", so HA asks for the key.
        detail = (
            "the client speaks the plaintext API, but this device requires encryption: "
            "give Home Assistant the device's encryption key"
            if byte == 0x00
            else f"bad frame preamble 0x{byte:02x} (expected 0x01)"
        )
        self._fail("Bad indicator byte", detail=detail)

    def _handle(self, body: bytes) -> Frame | None:
        if self._state is _State.HELLO:
            # The client hello is an empty frame; we answer with ours.
            self._out += _frame(b"\x01" + self._name + b"\x00" + self._mac + b"\x00")
            self._state = _State.HANDSHAKE
            return None
        if self._state is _State.HANDSHAKE:
            self._handshake(body)
            return None
        if self._state is _State.READY:
            return self._decrypt(body)
        raise ProtocolError("the encrypted handshake failed earlier")

    def _handshake(self, body: bytes) -> None:
        if not body:
            self._fail("Empty handshake message")
        if body[0] != 0x00:
            self._fail("Bad handshake error byte")
        try:
            self._proto.read_message(body[1:])
        except Exception as exc:
            # The client shows this text; "Handshake MAC failure" makes it say "invalid key".
            reason = "Handshake MAC failure" if _is_mac_failure(exc) else "Handshake error"
            self._fail(reason, exc, detail="wrong encryption key" if "MAC" in reason else None)
        self._out += _frame(b"\x00" + bytes(self._proto.write_message()))
        self._state = _State.READY

    def _fail(
        self, reason: str, cause: Exception | None = None, detail: str | None = None
    ) -> NoReturn:
        """ESPHome's explicit handshake reject: a frame of 0x01 and the reason."""
        self._out += _frame(b"\x01" + reason.encode())
        self._state = _State.FAILED
        raise ProtocolError(f"encrypted handshake refused: {detail or reason}") from cause

    def _decrypt(self, body: bytes) -> Frame:
        try:
            plain = bytes(self._proto.decrypt(body))
        except Exception as exc:
            raise ProtocolError("an encrypted frame did not decrypt") from exc
        if len(plain) < 4:
            raise ProtocolError("an encrypted frame is too short for its header")
        msg_type = (plain[0] << 8) | plain[1]
        size = (plain[2] << 8) | plain[3]
        if size != len(plain) - 4:
            raise ProtocolError(f"an encrypted frame says {size} bytes but holds {len(plain) - 4}")
        return Frame(msg_type, plain[4:])


def _is_mac_failure(exc: Exception) -> bool:
    # noiseprotocol lets cryptography's InvalidTag through when the PSK differs
    return type(exc).__name__ == "InvalidTag" or "MAC" in str(exc)


def _frame(body: bytes) -> bytes:
    return bytes((0x01, len(body) >> 8, len(body) & 0xFF)) + body

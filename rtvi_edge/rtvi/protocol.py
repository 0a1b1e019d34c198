"""The RTVI protocol of one client connection, sans I/O.

Bytes in → typed inputs for the session (audio, requests) plus any immediate
replies; pipeline events → messages out, in the shape the client's negotiated
protocol version expects (outbound.py). No sockets, no asyncio: unit-tested
byte for byte. The wire is pipecat's protobuf frames (WebSocket) or plain JSON
text (a WebRTC data channel, where audio travels as RTP instead).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from rtvi_edge import events as ev
from rtvi_edge.errors import ProtocolError
from rtvi_edge.rtvi import frames
from rtvi_edge.rtvi.messages import (
    PROTOCOL_VERSION,
    SUPPORTED_MAJORS,
    ClientMsg,
    ClientReady,
    MessageError,
    Version,
    envelope,
    format_version,
    parse_message,
    parse_version,
)
from rtvi_edge.rtvi.outbound import OutboundMapper

log = logging.getLogger(__name__)

CURRENT: Version = parse_version(PROTOCOL_VERSION)
OLDEST: Version = (0, 3, 0)  # 0.x clients sent no version in client-ready


@dataclass(frozen=True)
class AudioIn:
    pcm: bytes
    sample_rate: int
    num_channels: int


@dataclass(frozen=True)
class RequestIn:
    message: ClientMsg


Inbound = AudioIn | RequestIn
Outgoing = bytes | str  # a protobuf frame, or a JSON message (the "json" wire)
Wire = Literal["protobuf", "json"]


class ProtocolState(StrEnum):
    CONNECTED = "connected"  # socket open, no client-ready yet
    READY = "ready"  # client-ready received: bot-ready goes out, events flow
    CLOSED = "closed"  # the session ended; nothing more is read or written


_TRANSITIONS: dict[ProtocolState, frozenset[ProtocolState]] = {
    ProtocolState.CONNECTED: frozenset({ProtocolState.READY, ProtocolState.CLOSED}),
    # a client may send client-ready again (after a reconnect of its transport)
    ProtocolState.READY: frozenset({ProtocolState.READY, ProtocolState.CLOSED}),
    ProtocolState.CLOSED: frozenset(),
}


def negotiate(raw: object) -> tuple[Version, str | None]:
    """The version to speak with a client that declared `raw`, and what is wrong with it.

    pipecat's rules: a 2.x client gets the server's version; a 1.x (or 0.x) client
    its own, so it stays on the paths it knows. A missing version is a 0.x client.
    A bad or unknown version is reported and served as the current protocol:
    the session still starts (never a client waiting for bot-ready in vain)."""
    if raw is None:
        return OLDEST, None
    if not isinstance(raw, str):
        return CURRENT, f"client-ready version must be a string, got {raw!r:.40}"
    try:
        version = parse_version(raw)
    except ProtocolError as exc:
        return CURRENT, str(exc)
    if version[0] not in SUPPORTED_MAJORS:
        return CURRENT, (
            f"RTVI protocol {raw} is not known here; this server speaks {PROTOCOL_VERSION} "
            "(and 0.x, 1.x, 2.x): compatibility issues may occur"
        )
    return (CURRENT if version[0] == CURRENT[0] else version), None


MAX_CHANNELS = 8
MIN_RATE, MAX_RATE = 8000, 192000


def audio_problem(frame: frames.AudioFrame) -> str | None:
    """What makes an audio frame unusable (every field checked here), or None."""
    if not 1 <= frame.num_channels <= MAX_CHANNELS:
        return f"audio num_channels {frame.num_channels} is not supported (send 1)"
    if not MIN_RATE <= frame.sample_rate <= MAX_RATE:
        return f"audio sample_rate {frame.sample_rate} is not supported (send 16000)"
    if len(frame.audio) % 2:
        return "audio frame has an odd number of bytes (want s16le)"
    return None


class RtviProtocol:
    """One connection's protocol state (ProtocolState) and its version-aware output."""

    def __init__(
        self, max_message_bytes: int, about: dict[str, Any] | None = None, wire: Wire = "protobuf"
    ) -> None:
        self.max_message_bytes = max_message_bytes
        self.about = about or {}
        self.wire: Wire = wire
        self.state = ProtocolState.CONNECTED
        self.client_version: str | None = None  # as declared, if it was a string
        self.version: Version = CURRENT  # what this client is told and served
        self.outbound = OutboundMapper(self.version)
        self.outgoing: list[Outgoing] = []  # replies produced while receiving

    @property
    def client_major(self) -> int:
        return self.version[0]

    def advance(self, to: ProtocolState) -> None:
        """The one way the state changes; an impossible step is a bug, said loudly."""
        if to not in _TRANSITIONS[self.state]:
            raise ProtocolError(f"RTVI protocol cannot go from {self.state} to {to}")
        self.state = to

    def close(self) -> None:
        if self.state is not ProtocolState.CLOSED:
            self.advance(ProtocolState.CLOSED)

    # -- input ---------------------------------------------------------------
    def receive(self, data: bytes | str) -> list[Inbound]:
        """One message from the client. Bad input becomes an error reply in `outgoing`."""
        if self.state is ProtocolState.CLOSED:
            return []
        if len(data) > self.max_message_bytes:
            self._error_response(
                "",
                f"message of {len(data)} bytes is over the limit of {self.max_message_bytes} bytes",
            )
            return []
        try:
            return self._receive(data)
        except MessageError as exc:
            self._error_response(exc.msg_id, str(exc))
        except ProtocolError as exc:
            self._error_response("", f"malformed frame: {exc}")
        except Exception as exc:  # a parser bug: still never the end of the session
            log.exception("RTVI input could not be parsed")
            self._error_response("", f"the message could not be read: {type(exc).__name__}")
        return []

    def _receive(self, data: bytes | str) -> list[Inbound]:
        if isinstance(data, str):
            # Web clients only send binary; plain JSON text helps debugging tools.
            return self._message(data)
        frame = frames.decode_frame(data)
        if isinstance(frame, frames.AudioFrame):
            problem = audio_problem(frame)
            if problem is not None:
                self._error_response("", problem)
                return []
            return [AudioIn(frame.audio, frame.sample_rate, frame.num_channels)]
        if isinstance(frame, frames.MessageFrame):
            return self._message(frame.data)
        self._error_response(
            "",
            f"frame kind {frame.kind!r} is not accepted from clients; send audio or message frames",
        )
        return []

    def _message(self, text: str) -> list[Inbound]:
        msg = parse_message(text)
        if isinstance(msg, ClientReady):
            return self._client_ready(msg)
        return [RequestIn(msg)]

    def _client_ready(self, msg: ClientReady) -> list[Inbound]:
        version, problem = negotiate(msg.version)
        if problem is not None:
            # The client is told (error-response); a line per message would let a peer
            # write the journal as fast as it can send.
            log.debug("client-ready: %s; serving RTVI %s", problem, format_version(version))
            self._error_response(msg.id, problem)
        elif msg.version is None:
            log.info("client-ready without a version: serving it as an RTVI 0.x client")
        self.client_version = msg.version if isinstance(msg.version, str) else None
        self.version = version
        self.outbound.version = version
        self.advance(ProtocolState.READY)
        return [RequestIn(msg)]

    def bot_ready(self, msg_id: str, config: list[dict[str, Any]]) -> None:
        data: dict[str, Any] = {"version": format_version(self.version), "about": self.about}
        if self.version[0] == 0:
            data["config"] = config  # 0.x clients read the config from bot-ready
        self.send("bot-ready", data, msg_id)

    # -- output ---------------------------------------------------------------
    def send(self, mtype: str, data: Any = None, msg_id: str | None = None) -> None:
        text = envelope(mtype, data, msg_id)
        self.outgoing.append(text if self.wire == "json" else frames.encode_message(text))

    def _error_response(self, msg_id: str, error: str) -> None:
        self.send("error-response", {"error": error}, msg_id)

    def error_response(self, msg_id: str, error: str) -> None:
        self._error_response(msg_id, error)

    def audio(self, pcm: bytes, sample_rate: int) -> bytes:
        return frames.encode_audio(pcm, sample_rate, 1)

    def take(self) -> list[Outgoing]:
        out, self.outgoing = self.outgoing, []
        return out

    def event(self, event: ev.Event) -> None:
        """A pipeline event → the RTVI message(s) this client's version expects."""
        for mtype, data in self.outbound.messages(event):
            self.send(mtype, data)

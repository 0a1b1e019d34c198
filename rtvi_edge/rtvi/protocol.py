"""The RTVI protocol of one WebSocket connection, sans I/O.

Bytes in → typed inputs for the session (audio, requests) plus any immediate
replies; pipeline events → bytes out. No sockets, no asyncio: unit-tested
byte for byte.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from rtvi_edge import events as ev
from rtvi_edge.errors import ProtocolError
from rtvi_edge.rtvi import frames
from rtvi_edge.rtvi.messages import (
    PROTOCOL_VERSION,
    SUPPORTED_MAJORS,
    ClientMsg,
    ClientReady,
    MessageError,
    envelope,
    parse_message,
    parse_version,
)


@dataclass(frozen=True)
class AudioIn:
    pcm: bytes
    sample_rate: int
    num_channels: int


@dataclass(frozen=True)
class RequestIn:
    message: ClientMsg


Inbound = AudioIn | RequestIn


class RtviProtocol:
    """State: `connected` until client-ready, then `ready`; `closed` after a fatal error."""

    def __init__(self, max_message_bytes: int, about: dict[str, Any] | None = None) -> None:
        self.max_message_bytes = max_message_bytes
        self.about = about or {}
        self.state = "connected"
        self.client_version: str | None = None
        self.client_major = 2
        self.outgoing: list[bytes] = []  # replies produced while receiving

    # -- input ---------------------------------------------------------------
    def receive(self, data: bytes | str) -> list[Inbound]:
        """One WebSocket message. Bad input becomes an error reply in `outgoing`."""
        if self.state == "closed":
            return []
        if len(data) > self.max_message_bytes:
            self._error_response(
                "",
                f"message of {len(data)} bytes is over the limit of {self.max_message_bytes} bytes",
            )
            return []
        try:
            if isinstance(data, str):
                # Web clients only send binary; plain JSON text helps debugging tools.
                return self._message(data)
            frame = frames.decode_frame(data)
        except MessageError as exc:
            self._error_response(exc.msg_id, str(exc))
            return []
        except ProtocolError as exc:
            self._error_response("", f"malformed frame: {exc}")
            return []
        if isinstance(frame, frames.AudioFrame):
            if len(frame.audio) % 2:
                self._error_response("", "audio frame has an odd number of bytes (want s16le)")
                return []
            return [AudioIn(frame.audio, frame.sample_rate, frame.num_channels)]
        if isinstance(frame, frames.MessageFrame):
            try:
                return self._message(frame.data)
            except MessageError as exc:
                self._error_response(exc.msg_id, str(exc))
                return []
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
        version = msg.version or "0.3.0"  # 0.x clients sent no version
        try:
            major, _minor = parse_version(version)
        except ProtocolError as exc:
            raise MessageError(str(exc), msg.id) from None
        if major not in SUPPORTED_MAJORS:
            self.send(
                "error",
                {
                    "error": f"RTVI protocol {version} is not supported; this "
                    f"server speaks {PROTOCOL_VERSION} and accepts 0.x, "
                    f"1.x and 2.x clients",
                    "fatal": True,
                },
            )
            self.state = "closed"
            return []
        self.client_version = version
        self.client_major = major
        self.state = "ready"
        return [RequestIn(msg)]

    def bot_ready(self, msg_id: str, config: list[dict[str, Any]]) -> None:
        data: dict[str, Any] = {"version": PROTOCOL_VERSION, "about": self.about}
        if self.client_major == 0:
            data["config"] = config  # 0.x clients read the config from bot-ready
        self.send("bot-ready", data, msg_id)

    # -- output ---------------------------------------------------------------
    def send(self, mtype: str, data: Any = None, msg_id: str | None = None) -> None:
        self.outgoing.append(frames.encode_message(envelope(mtype, data, msg_id)))

    def _error_response(self, msg_id: str, error: str) -> None:
        self.send("error-response", {"error": error}, msg_id)

    def error_response(self, msg_id: str, error: str) -> None:
        self._error_response(msg_id, error)

    def audio(self, pcm: bytes, sample_rate: int) -> bytes:
        return frames.encode_audio(pcm, sample_rate, 1)

    def take(self) -> list[bytes]:
        out, self.outgoing = self.outgoing, []
        return out

    def event(self, event: ev.Event) -> None:
        """A pipeline event → the RTVI message(s) current and older clients expect."""
        for mtype, data in event_messages(event):
            self.send(mtype, data)


def _metric(processor: str, model: str, value: float | int) -> dict[str, Any]:
    return {"processor": processor, "model": model, "value": value}


def event_messages(event: ev.Event) -> list[tuple[str, Any]]:
    simple = {
        ev.UserStartedSpeaking: "user-started-speaking",
        ev.UserStoppedSpeaking: "user-stopped-speaking",
        ev.BotLlmStarted: "bot-llm-started",
        ev.BotLlmStopped: "bot-llm-stopped",
        ev.BotTtsStarted: "bot-tts-started",
        ev.BotTtsStopped: "bot-tts-stopped",
        ev.BotStartedSpeaking: "bot-started-speaking",
        ev.BotStoppedSpeaking: "bot-stopped-speaking",
    }
    name = simple.get(type(event))
    if name is not None:
        return [(name, None)]
    if isinstance(event, ev.UserTranscription):
        return [
            (
                "user-transcription",
                {
                    "text": event.text,
                    "final": event.final,
                    "timestamp": event.timestamp,
                    "user_id": "",
                },
            )
        ]
    if isinstance(event, ev.BotLlmText):
        return [("bot-llm-text", {"text": event.text})]
    if isinstance(event, ev.BotTtsText):
        return [("bot-tts-text", {"text": event.text})]
    if isinstance(event, ev.BotOutput):
        out: list[tuple[str, Any]] = [
            (
                "bot-output",
                {"text": event.text, "spoken": event.spoken, "aggregated_by": "sentence"},
            )
        ]
        if not event.spoken:
            out.append(("bot-transcription", {"text": event.text}))  # deprecated, 1.x clients
        return out
    if isinstance(event, ev.BotInterrupted):
        return [("bot-interrupted", None)]
    if isinstance(event, ev.TurnMetrics):
        return [("metrics", metrics_data(event))]
    if isinstance(event, ev.ErrorEvent):
        return [("error", {"error": event.message, "fatal": event.fatal})]
    if isinstance(event, ev.BackendEvent):
        return [("server-message", backend_message(event))]
    if isinstance(event, ev.FunctionCallStarted):
        args = {
            "function_name": event.function_name,
            "tool_call_id": event.tool_call_id,
            "arguments": event.arguments,
        }
        started = ("llm-function-call-started", {"function_name": event.function_name})
        if not event.client_side:
            return [started]  # the device runs it: no client handler must answer
        return [
            started,
            ("llm-function-call-in-progress", args),
            # 0.x/1.x clients run their handler on this one
            (
                "llm-function-call",
                {
                    "function_name": event.function_name,
                    "tool_call_id": event.tool_call_id,
                    "args": event.arguments,
                },
            ),
        ]
    if isinstance(event, ev.FunctionCallStopped):
        return [
            (
                "llm-function-call-stopped",
                {
                    "function_name": event.function_name,
                    "tool_call_id": event.tool_call_id,
                    "result": event.result,
                    "cancelled": event.cancelled,
                },
            )
        ]
    return []


def backend_message(e: ev.BackendEvent) -> dict[str, Any]:
    """What a client hears about a LAN server failing over or coming back."""
    return {
        "type": "backend",
        "stage": e.stage,
        "backend": e.backend,
        "event": e.kind,
        "reason": e.reason,
        "fallback": e.fallback,
    }


def metrics_data(m: ev.TurnMetrics) -> dict[str, Any]:
    ttfb = []
    if m.stt is not None:
        ttfb.append(_metric("stt", m.stt_model, round(m.stt, 4)))
    if m.llm_ttfb is not None:
        ttfb.append(_metric("llm", m.llm_model, round(m.llm_ttfb, 4)))
    if m.tts_ttfb is not None:
        ttfb.append(_metric("tts", m.tts_model, round(m.tts_ttfb, 4)))
    processing = []
    if m.voice_to_voice is not None:
        processing.append(_metric("voice_to_voice", "", round(m.voice_to_voice, 4)))
    if m.endpointing is not None:
        processing.append(_metric("endpointing", "", round(m.endpointing, 4)))
    return {
        "ttfb": ttfb,
        "processing": processing,
        "tokens": [
            {
                "processor": "llm",
                "model": m.llm_model,
                "value": {
                    "prompt_tokens": m.prompt_tokens,
                    "completion_tokens": m.completion_tokens,
                    "total_tokens": m.prompt_tokens + m.completion_tokens,
                },
            }
        ],
        "characters": [_metric("tts", m.tts_model, m.characters)],
    }


def dumps(obj: Any) -> str:
    return json.dumps(obj)

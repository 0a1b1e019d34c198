"""What one Wyoming connection may do next: an explicit state machine, sans-I/O.

The server feeds it each event's type; it answers with the step to take, or
with a rejection (sent to the client as an `error` event) and keeps its state.
A request that fails while it runs ends the connection (the server's choice, as
other Wyoming servers do it), so there is no failed state here.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Literal

SERVICES = ("asr", "tts", "wake", "handle")
MAX_ERRORS = 20  # a client that keeps sending nonsense is disconnected after this many


class Phase(enum.Enum):
    IDLE = "idle"
    REQUESTED = "requested"  # transcribe/detect received, its audio not started yet
    STREAMING = "streaming"  # between audio-start and audio-stop
    TEXT_STREAM = "text-stream"  # between synthesize-start and synthesize-stop


AudioTask = Literal["transcribe", "detect"]
Action = Literal[
    "describe",
    "pong",
    "select-program",
    "request",  # transcribe/detect: remember what the audio is for
    "audio-start",
    "audio-chunk",
    "audio-stop",
    "drop",  # nothing to do (the whole text repeated inside a text stream)
    "synthesize",
    "synthesize-start",
    "synthesize-chunk",
    "synthesize-stop",
    "handle",
]


@dataclass(frozen=True)
class Step:
    action: Action
    task: AudioTask | None = None  # for the audio steps: what the audio is for


@dataclass(frozen=True)
class Reject:
    code: str
    text: str


_SERVICE_OF = {
    "transcribe": "asr",
    "detect": "wake",
    "synthesize": "tts",
    "synthesize-start": "tts",
    "synthesize-chunk": "tts",
    "synthesize-stop": "tts",
    "transcript": "handle",
}
_SERVICE_NAMES = {
    "asr": "speech to text",
    "tts": "text to speech",
    "wake": "wake word",
    "handle": "intent handling",
}
# Events a server sends, never receives: a client sending one has its roles mixed up.
_SERVER_EVENTS = frozenset(
    {
        "info",
        "transcript-start",
        "transcript-chunk",
        "transcript-stop",
        "detection",
        "not-detected",
        "synthesize-stopped",
        "handled",
        "not-handled",
        "error",
        "pong",
    }
)


class ConnectionState:
    def __init__(self, services: frozenset[str]) -> None:
        self.services = services
        self.phase = Phase.IDLE
        self.task: AudioTask | None = None
        self.errors = 0

    def on_event(self, etype: str) -> Step | Reject:
        service = _SERVICE_OF.get(etype)
        if service is not None and service not in self.services:
            return self._reject(
                "service-off", f"{etype}: {_SERVICE_NAMES[service]} is not offered here"
            )
        if etype == "describe":
            return Step("describe")
        if etype == "ping":
            return Step("pong")
        if etype == "select-program":
            return Step("select-program")
        if etype in ("transcribe", "detect"):
            return self._request("transcribe" if etype == "transcribe" else "detect")
        if etype.startswith("audio-"):
            return self._audio(etype)
        if etype.startswith("synthesize"):
            return self._synthesize(etype)
        if etype == "transcript":
            if self.phase is not Phase.IDLE:
                return self._busy(etype)
            return Step("handle")
        if etype in _SERVER_EVENTS:
            return self._reject(
                "wrong-direction", f"{etype}: a server sends this, never receives it"
            )
        return self._reject("unknown-event", f"unknown event type {etype[:60]!r}")

    @property
    def too_many_errors(self) -> bool:
        return self.errors >= MAX_ERRORS

    # -- transitions ----------------------------------------------------------
    def _request(self, task: AudioTask) -> Step | Reject:
        if self.phase not in (Phase.IDLE, Phase.REQUESTED):
            return self._busy(task)
        self.phase, self.task = Phase.REQUESTED, task
        return Step("request", task)

    def _audio(self, etype: str) -> Step | Reject:
        phase = self.phase
        if etype == "audio-start":
            if phase is Phase.REQUESTED:
                self.phase = Phase.STREAMING
                return Step("audio-start", self.task)
            if phase is Phase.IDLE:
                if "asr" not in self.services:
                    return self._reject(
                        "no-request", "audio-start without transcribe or detect before it"
                    )
                # Like other Wyoming speech-to-text servers: bare audio is to be transcribed.
                self.phase, self.task = Phase.STREAMING, "transcribe"
                return Step("audio-start", "transcribe")
            return self._busy(etype)
        if etype == "audio-chunk":
            if phase is Phase.STREAMING:
                return Step("audio-chunk", self.task)
            return self._reject("no-audio-start", "audio-chunk without audio-start before it")
        if etype == "audio-stop":
            if phase is Phase.STREAMING:
                task, self.phase, self.task = self.task, Phase.IDLE, None
                return Step("audio-stop", task)
            return self._reject("no-audio-start", "audio-stop without audio-start before it")
        return self._reject("unknown-event", f"unknown event type {etype[:60]!r}")

    def _synthesize(self, etype: str) -> Step | Reject:
        phase = self.phase
        if etype == "synthesize":
            if phase is Phase.TEXT_STREAM:
                return Step("drop")  # streaming clients repeat the whole text for old servers
            if phase is not Phase.IDLE:
                return self._busy(etype)
            return Step("synthesize")
        if etype == "synthesize-start":
            if phase is not Phase.IDLE:
                return self._busy(etype)
            self.phase = Phase.TEXT_STREAM
            return Step("synthesize-start")
        if etype in ("synthesize-chunk", "synthesize-stop"):
            if phase is not Phase.TEXT_STREAM:
                return self._reject("no-synthesize-start", f"{etype} without synthesize-start")
            if etype == "synthesize-stop":
                self.phase = Phase.IDLE
                return Step("synthesize-stop")
            return Step("synthesize-chunk")
        return self._reject("unknown-event", f"unknown event type {etype[:60]!r}")

    def _busy(self, etype: str) -> Reject:
        doing = {
            Phase.REQUESTED: f"waiting for the audio of {self.task}",
            Phase.STREAMING: f"receiving the audio of {self.task} (send audio-stop first)",
            Phase.TEXT_STREAM: "streaming text to speak (send synthesize-stop first)",
        }.get(self.phase, self.phase.value)
        return self._reject("busy", f"{etype} while {doing}")

    def _reject(self, code: str, text: str) -> Reject:
        self.errors += 1
        return Reject(code, text)

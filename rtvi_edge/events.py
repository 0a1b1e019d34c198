"""The one typed event stream of the daemon.

Every conversation (session) publishes these; the RTVI server forwards a
session's own events to its client, the MQTT bridge and the metrics log see
them all. Subscribers get a bounded queue each, so a slow one never stalls the
pipeline (the oldest events are dropped for it, and counted).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

log = logging.getLogger(__name__)


class BotState(StrEnum):
    """Where a conversation's turn is: the one representation, inside and out. The
    turn state machine (pipeline/turn_state.py) moves it; its values are what RTVI,
    MQTT and Home Assistant's entity show, unchanged.

    idle → listening (the user speaks) → thinking (a committed turn runs) →
    speaking (the bot's first audio) → idle; `muted` overrides everything."""

    IDLE = "idle"
    LISTENING = "listening"
    THINKING = "thinking"
    SPEAKING = "speaking"
    MUTED = "muted"


@dataclass(frozen=True, kw_only=True)
class Event:
    session_id: str
    at: float = field(default_factory=time.monotonic)


@dataclass(frozen=True, kw_only=True)
class UserStartedSpeaking(Event):
    pass


@dataclass(frozen=True, kw_only=True)
class UserStoppedSpeaking(Event):
    pass


@dataclass(frozen=True, kw_only=True)
class UserTranscription(Event):
    text: str
    final: bool
    timestamp: str = ""


@dataclass(frozen=True, kw_only=True)
class BotLlmStarted(Event):
    pass


@dataclass(frozen=True, kw_only=True)
class BotLlmText(Event):
    text: str


@dataclass(frozen=True, kw_only=True)
class BotLlmStopped(Event):
    pass


@dataclass(frozen=True, kw_only=True)
class BotTtsStarted(Event):
    pass


@dataclass(frozen=True, kw_only=True)
class BotTtsText(Event):
    text: str


@dataclass(frozen=True, kw_only=True)
class BotTtsStopped(Event):
    pass


@dataclass(frozen=True, kw_only=True)
class BotStartedSpeaking(Event):
    pass


@dataclass(frozen=True, kw_only=True)
class BotStoppedSpeaking(Event):
    pass


@dataclass(frozen=True, kw_only=True)
class BotOutput(Event):
    """A segment of the answer: sent when it goes to the TTS (spoken=False) and
    again once it has been played (spoken=True); text-only answers are sent once,
    with will_be_spoken=False."""

    text: str
    spoken: bool
    will_be_spoken: bool = True


@dataclass(frozen=True, kw_only=True)
class BotSpeechProgress(Event):
    """How far the segment being played has got, at word boundaries."""

    text: str
    accumulated_text: str
    remaining_text: str


@dataclass(frozen=True, kw_only=True)
class BotInterrupted(Event):
    spoken_text: str  # what the user actually heard of the cut-off answer


@dataclass(frozen=True, kw_only=True)
class StateChanged(Event):
    state: BotState


@dataclass(frozen=True, kw_only=True)
class TurnMetrics(Event):
    """Per-stage timings of one turn in seconds; None where a stage did not run."""

    endpointing: float | None = None
    stt: float | None = None
    llm_ttfb: float | None = None
    tts_ttfb: float | None = None
    voice_to_voice: float | None = None  # end of user speech → first bot audio out
    llm_model: str = ""
    stt_model: str = ""
    tts_model: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    characters: int = 0


@dataclass(frozen=True, kw_only=True)
class FunctionCallStarted(Event):
    function_name: str
    tool_call_id: str
    arguments: dict[str, Any]
    client_side: bool = False  # the client runs it and answers with a result


@dataclass(frozen=True, kw_only=True)
class FunctionCallStopped(Event):
    function_name: str
    tool_call_id: str
    result: Any
    cancelled: bool


@dataclass(frozen=True, kw_only=True)
class ErrorEvent(Event):
    message: str
    fatal: bool = False


@dataclass(frozen=True, kw_only=True)
class WakeDetected(Event):
    """The device woke up: by its wake word, or a push-to-talk command."""

    source: Literal["wake_word", "push"]
    name: str = ""


@dataclass(frozen=True, kw_only=True)
class TimerEvent(Event):
    """A timer was set, cancelled, or went off."""

    timer_id: str
    label: str
    action: Literal["set", "cancelled", "fired"]
    seconds: float  # its length
    due: float  # wall-clock time (epoch seconds) it goes off


@dataclass(frozen=True, kw_only=True)
class ConfigChanged(Event):
    """The services config changed (session- or device-wide)."""

    config: list[dict[str, Any]]


@dataclass(frozen=True, kw_only=True)
class ControlsChanged(Event):
    """A conversation's mute or volume changed, by whatever path (MQTT, Home Assistant,
    RTVI, a voice command, a reload): what mirrors them (HA's entities, MQTT) follows."""

    muted: bool
    volume: float


@dataclass(frozen=True, kw_only=True)
class UserMuted(Event):
    """The device stopped (or started again) listening to the user: muted, or deaf
    while the bot speaks (half-duplex echo guard)."""

    muted: bool
    reason: Literal["muted", "half-duplex"]


ClientInputKind = Literal[
    "dtmf", "ui-event", "ui-snapshot", "ui-cancel-job-group", "client-message"
]


@dataclass(frozen=True, kw_only=True)
class ClientInput(Event):
    """Input from an RTVI client for the application, not the conversation: dtmf
    keys, UI worker messages (ui-event, ui-snapshot, ui-cancel-job-group), and
    client-message types the device does not serve itself."""

    kind: ClientInputKind
    name: str  # the keys, the ui event or job id, or the client-message `t`
    data: Any = None
    msg_id: str = ""


@dataclass(frozen=True, kw_only=True)
class BackendEvent(Event):
    """A stage's backend (a LAN server or a local engine) failed, was skipped for a
    turn, or came back. `session_id` is the turn's, or DEVICE_WIDE for a background
    probe; device-wide events reach every subscriber."""

    stage: Literal["stt", "llm", "tts"]
    backend: str
    kind: Literal["down", "slow", "error", "recovered"]
    reason: str = ""
    fallback: str = ""  # the backend that answered instead ("" = none)


DEVICE_WIDE = ""  # session_id of events about the whole device


class Subscription:
    """A bounded queue of events for one subscriber."""

    def __init__(self, bus: EventBus, session_id: str | None, maxsize: int) -> None:
        self._bus = bus
        self.session_id = session_id
        self.queue: asyncio.Queue[Event] = asyncio.Queue(maxsize)
        self.dropped = 0

    def offer(self, event: Event) -> None:
        if (
            self.session_id is not None
            and event.session_id != self.session_id
            and not (isinstance(event, BackendEvent) and event.session_id == DEVICE_WIDE)
        ):
            return
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(event)

    async def get(self) -> Event:
        return await self.queue.get()

    def close(self) -> None:
        self._bus.unsubscribe(self)


class EventBus:
    """Fan-out of events to subscribers; publishing never blocks."""

    def __init__(self) -> None:
        self._subs: list[Subscription] = []

    def subscribe(self, session_id: str | None = None, maxsize: int = 1024) -> Subscription:
        sub = Subscription(self, session_id, maxsize)
        self._subs.append(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        if sub in self._subs:
            self._subs.remove(sub)

    def publish(self, event: Event) -> None:
        for sub in list(self._subs):
            sub.offer(event)

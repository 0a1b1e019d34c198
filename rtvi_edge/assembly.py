"""The composition root: every conversation is built here, complete, through its constructor.

The daemon (its local conversation and each RTVI session), the MQTT `ask`
(it talks to the local conversation), the `chat` command and the tests all get
their conversations from `Assembly`, so each one has its tools, intents and,
for the device's own microphone, its hands-free parts (echo canceller, wake
gate, wake-word detector, earcon). Nothing is attached afterwards.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass

from rtvi_edge import events as ev
from rtvi_edge.audio.echo import EchoCanceller
from rtvi_edge.audio.sink import AudioSink
from rtvi_edge.config import Config, EchoGuard, WakeMode
from rtvi_edge.engines.hub import EngineHub
from rtvi_edge.pipeline.conversation import Clock, Conversation, Shared
from rtvi_edge.pipeline.hands_free import HandsFree
from rtvi_edge.pipeline.settings import SessionSettings
from rtvi_edge.pipeline.wake_gate import WakeGate
from rtvi_edge.tools.setup import ToolSetup

log = logging.getLogger(__name__)

LOCAL_SESSION = "local"


@dataclass(frozen=True)
class LocalConversation:
    """The device's own conversation and the echo canceller its speaker must feed."""

    conversation: Conversation
    echo: EchoCanceller | None


class Assembly:
    def __init__(
        self,
        config: Callable[[], Config],
        hub: EngineHub,
        bus: ev.EventBus,
        tools: ToolSetup | None,
        clock: Clock | None = None,
    ) -> None:
        self._config = config  # the current config (it changes on reload and update-config)
        self.hub = hub
        self.bus = bus
        self.tools = tools
        self._shared = Shared(hub, bus, clock) if clock is not None else Shared(hub, bus)

    def _build(
        self,
        session_id: str,
        settings: SessionSettings,
        sink: AudioSink | None,
        chunk_ms: int,
        client_functions: bool,
        hands_free: HandsFree | None = None,
    ) -> Conversation:
        tools = (
            functools.partial(self.tools.for_session, client_functions=client_functions)
            if self.tools is not None
            else None
        )
        return Conversation(
            session_id, self._shared, settings, sink, chunk_ms, tools=tools, hands_free=hands_free
        )

    def local(self, with_audio: bool) -> LocalConversation:
        """The device's conversation; `with_audio`: its microphone and speaker will run,
        so it gets the hands-free parts `[wake]` and `[audio]` ask for."""
        config = self._config()
        settings = local_settings(config)
        echo = None
        hands_free = None
        if with_audio:
            a = config.audio
            if a.echo_cancel:
                echo = EchoCanceller(a.echo_delay_ms, a.noise_suppression, a.auto_gain)
            hands_free = self._hands_free(config, echo)
        # The speaker is attached by the audio supervisor once the device is open.
        conv = self._build(LOCAL_SESSION, settings, None, config.audio.frame_ms, False, hands_free)
        return LocalConversation(conv, echo)

    def rtvi(self, session_id: str, sink: AudioSink) -> Conversation:
        """One RTVI client's conversation: its own settings, its client functions."""
        config = self._config()
        settings = rtvi_settings(config)
        return self._build(session_id, settings, sink, config.rtvi.chunk_ms, True)

    def chat(self, sink: AudioSink | None) -> Conversation:
        """The `chat` command's conversation: typed turns, the device's tools and intents."""
        return self.text("chat", sink)

    def text(self, session_id: str, sink: AudioSink | None = None) -> Conversation:
        """A conversation of typed turns (chat, Wyoming `handle`): the device's tools and
        intents, no client functions."""
        config = self._config()
        return self._build(session_id, SessionSettings.from_config(config), sink, 40, False)

    @staticmethod
    def _hands_free(config: Config, echo: EchoCanceller | None) -> HandsFree:
        wake = config.wake
        if wake.mode == WakeMode.ALWAYS:
            return HandsFree(echo=echo)
        detector = None
        if wake.mode == WakeMode.WAKE_WORD:
            from rtvi_edge.audio.wake import WakeWordDetector

            detector = WakeWordDetector(wake.model, wake.threshold)
            log.info("listening for the wake word %r", detector.name)
        sound = b""
        if wake.earcon:
            from rtvi_edge.audio.wake import earcon

            sound = earcon(config.audio.output_rate)
        return HandsFree(
            echo=echo,
            wake_gate=WakeGate(wake.mode, wake.listen_secs, wake.follow_up_secs),
            wake_detector=detector,
            earcon=sound,
        )


# What each kind of conversation starts with, for a config (also its base on a reload).
def local_settings(config: Config) -> SessionSettings:
    """The device's own conversation: its mute too (kept across reload and restart)."""
    settings = SessionSettings.from_config(config)
    settings.muted = config.audio.muted
    return settings


def rtvi_settings(config: Config) -> SessionSettings:
    """An RTVI client's conversation: its own mute, and barge-in like a normal start,
    since browser and phone clients cancel their own echo."""
    settings = SessionSettings.from_config(config, echo_guard=EchoGuard.BARGE_IN)
    settings.barge_in_threshold = settings.endpoint.threshold
    settings.barge_in_secs = settings.endpoint.start_secs
    return settings

"""What of the microphone reaches the listener: the wake/echo gating of one conversation.

In order: the echo canceller takes the bot's voice out; the wake gate (wake
word or push-to-talk) holds the audio back until the device is woken; while
the bot speaks the listener is deaf (half-duplex) or held to the barge-in bar,
and stays so for `ECHO_TAIL_SECS` after its last word (the room still rings).
Mute makes the listener deaf. The gate never decides turns: it reports mute
changes and wake-ups to the conversation through the callbacks it was given.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from typing import Literal

from rtvi_edge import events as ev
from rtvi_edge.config import EchoGuard
from rtvi_edge.pipeline.hands_free import HandsFree, WakeDetector
from rtvi_edge.pipeline.listener import UserListener
from rtvi_edge.pipeline.settings import SessionSettings

ECHO_TAIL_SECS = 0.3  # room reverb of the bot's last word: ignored, or held to the barge-in bar


@dataclasses.dataclass(frozen=True)
class GateHooks:
    """What the gate tells its conversation."""

    publish: Callable[[ev.Event], None]
    mute_applied: Callable[[bool], None]  # the listener is (un)muted: the turn state follows
    play_earcon: Callable[[bytes], None]
    clock: Callable[[], float]


class InputGate:
    def __init__(
        self,
        session_id: str,
        hands_free: HandsFree,
        listener: UserListener,
        settings: Callable[[], SessionSettings],
        hooks: GateHooks,
    ) -> None:
        self._session_id = session_id
        self.hands_free = hands_free
        self._listener = listener
        self._settings = settings
        self._hooks = hooks
        self._undeafen: asyncio.TimerHandle | None = None

    @property
    def listens_always(self) -> bool:
        """No wake word or push-to-talk stands between the microphone and the listener."""
        return self.hands_free.wake_gate is None

    # -- the microphone ----------------------------------------------------------------
    def filter(self, pcm16k: bytes) -> bytes | None:
        """The frame as the listener may hear it; None while the device sleeps."""
        hf = self.hands_free
        if hf.echo is not None:
            pcm16k = hf.echo.process(pcm16k)
        gate = hf.wake_gate
        if gate is not None and not gate.hears(self._hooks.clock()):
            if hf.wake_detector is not None and hf.wake_detector.process(pcm16k):
                self.wake("wake_word")
            return None
        return pcm16k

    # -- the wake gate -----------------------------------------------------------------
    def wake(self, source: str = "push") -> None:
        """Start listening (wake word heard, or push-to-talk)."""
        hf = self.hands_free
        if hf.wake_gate is None:
            return
        hf.wake_gate.wake(self._hooks.clock())
        name = hf.wake_detector.name if hf.wake_detector and source == "wake_word" else ""
        self._hooks.publish(
            ev.WakeDetected(
                session_id=self._session_id,
                source="push" if source == "push" else "wake_word",
                name=name,
            )
        )
        if hf.earcon:
            self._hooks.play_earcon(hf.earcon)

    def user_turn_started(self) -> None:
        """Hear until the turn is over (the user spoke, or another pipeline runs it)."""
        if self.hands_free.wake_gate is not None:
            self.hands_free.wake_gate.turn_started()

    def turn_idle(self) -> None:
        """The turn is over: a busy gate opens its follow-up window."""
        gate = self.hands_free.wake_gate
        if gate is not None and gate.busy:
            gate.turn_finished(self._hooks.clock())

    def sleep(self) -> None:
        if self.hands_free.wake_gate is not None:
            self.hands_free.wake_gate.sleep()

    @property
    def wake_word(self) -> str | None:
        detector = self.hands_free.wake_detector
        return detector.name if detector is not None else None

    def set_wake_detector(self, detector: WakeDetector) -> None:
        self.hands_free = dataclasses.replace(self.hands_free, wake_detector=detector)

    # -- echo guard and mute -------------------------------------------------------------
    def bot_speaking(self, speaking: bool) -> None:
        if self._undeafen is not None:
            self._undeafen.cancel()
            self._undeafen = None
        s = self._settings()
        half = s.echo_guard == EchoGuard.HALF_DUPLEX
        if speaking:
            self._set_deaf(half or s.muted)
            self._listener.barge_in = None if half else s.barge_in()
            return
        if s.muted:
            self._end_echo_tail()
            return
        # The room still rings with the bot's last word for a moment: deaf (half-duplex)
        # or still under the barge-in bar until it has died away.
        loop = asyncio.get_running_loop()
        self._undeafen = loop.call_later(ECHO_TAIL_SECS, self._end_echo_tail)

    def apply_mute(self) -> None:
        muted = self._settings().muted
        self._set_deaf(muted)
        self._hooks.mute_applied(muted)

    def _end_echo_tail(self) -> None:
        self._undeafen = None
        self._listener.barge_in = None
        self.apply_mute()

    def _set_deaf(self, deaf: bool) -> None:
        """The listener ignores the user (muted, or half-duplex while the bot speaks);
        RTVI clients hear of it as user-mute-started / -stopped."""
        if deaf != self._listener.deaf:
            reason: Literal["muted", "half-duplex"] = (
                "muted" if self._settings().muted else "half-duplex"
            )
            self._hooks.publish(
                ev.UserMuted(session_id=self._session_id, muted=deaf, reason=reason)
            )
        self._listener.deaf = deaf

    def close(self) -> None:
        if self._undeafen is not None:
            self._undeafen.cancel()
            self._undeafen = None

"""When the microphone reaches the conversation: always, after a wake word, or on a push.

A sans-I/O state machine over monotonic time: `asleep` (only the wake-word
detector hears the mic) and `awake` until a deadline. Waking opens a window
of `listen_secs` to start speaking; a turn in progress keeps it awake; the
end of the bot's answer opens a follow-up window of `follow_up_secs`.
"""

from __future__ import annotations

from dataclasses import dataclass

from rtvi_edge.config import WakeMode


@dataclass
class WakeGate:
    mode: WakeMode = WakeMode.ALWAYS
    listen_secs: float = 8.0
    follow_up_secs: float = 5.0
    awake_until: float = 0.0
    busy: bool = False  # a user or bot turn is in progress

    def hears(self, now: float) -> bool:
        return self.mode == WakeMode.ALWAYS or self.busy or now < self.awake_until

    def wake(self, now: float) -> None:
        self.awake_until = now + self.listen_secs

    def turn_started(self) -> None:
        self.busy = True

    def turn_finished(self, now: float) -> None:
        self.busy = False
        self.awake_until = now + self.follow_up_secs

    def sleep(self) -> None:
        self.busy = False
        self.awake_until = 0.0

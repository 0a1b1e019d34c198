"""A premature answer is taken back: the user who goes on was not finished.

Sans-I/O. When the device has taken the turn and the user starts speaking again
within `window_secs` of that (a pause the endpoint judged final, but the user
was only thinking), the new speech continues the same user turn: the device
stops (bot-interrupted), the half answer and the user message it answered leave
the context, and the user's next words are joined to the earlier ones, so the
two parts are one user message, one final transcript and one answer. A turn
that ran a tool (or a local command) is not taken back: its effect is real.
"""

from __future__ import annotations

from dataclasses import dataclass

WINDOW_SECS = 2.0  # speech this soon after the device took the turn continues it


@dataclass(frozen=True)
class Answered:
    """A user message the device is answering, as it was committed."""

    text: str
    turns_before: int  # len(context.turns) before the user message was added
    at: float  # when the device took the turn (monotonic seconds)
    speech_end_at: float  # when the user's words ended (monotonic seconds)


class Continuation:
    def __init__(self, window_secs: float = WINDOW_SECS) -> None:
        self.window_secs = window_secs
        self._answered: Answered | None = None
        self._joining: Answered | None = None  # taken back: its words lead the next message

    def committed(self, answered: Answered) -> None:
        """The device took the turn for `answered` (its answer starts now)."""
        self._answered = answered

    def answer_finished(self) -> None:
        """The answer ended (spoken to the end, failed, or interrupted for good)."""
        self._answered = None

    def speech_started(self, now: float) -> Answered | None:
        """The user speaks while the device answers: the turn to take back, if any."""
        a, self._answered = self._answered, None
        if a is None or now - a.at > self.window_secs:
            return None
        self._joining = a
        return a

    def defer(self, text: str, speech_end_at: float) -> None:
        """The user went on before the device took the turn (a slow CPU, a long final
        decode): `text` is not answered, it leads the next message."""
        prior = self._joining.text + " " if self._joining is not None else ""
        self._joining = Answered(prior + text, 0, 0.0, speech_end_at)

    def keep(self) -> None:
        """The answer could not be taken back after all (a tool ran): no joining."""
        self._joining = None

    def join(self, text: str) -> str:
        """The user's next message, with the words of the turn taken back in front."""
        a, self._joining = self._joining, None
        if a is None:
            return text
        return f"{a.text} {text}".strip() if text else a.text

    def preview(self, text: str) -> str:
        """What `join` would make of `text`, without taking the words (speculation)."""
        a = self._joining
        return text if a is None or not text else f"{a.text} {text}".strip()

    @property
    def joining(self) -> bool:
        return self._joining is not None

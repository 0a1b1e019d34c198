"""Dynamic endpointing: a user who goes on after long pauses is given longer pauses.

Sans-I/O and per session (each endpointer has one). Every time the user resumes
speaking after a real pause inside their turn (at least `min_secs` of silence:
shorter gaps are the stops between words), or goes on within seconds after the
device had already taken the turn, the length of that pause is remembered. An
unsure pause then lasts at least the longest remembered one plus a margin,
within the turn's longest allowed silence. The memory fades with every turn
that ends without such a pause, so a user who was thinking once is not waited
for forever. A confident "finished" (the turn model and the language model
both sure) still ends the turn at once: only the doubtful cases wait longer.
"""

from __future__ import annotations

from dataclasses import dataclass

MARGIN_SECS = 0.25  # beyond the longest pause the user went on after
DECAY = 0.7  # per turn that ended without such a pause
MIN_PAUSE_SECS = 0.2  # shorter silences are the gaps between words


@dataclass
class AdaptiveWait:
    learned_secs: float = 0.0  # the wait this user has shown they need (0: none yet)
    resumes: int = 0  # pauses the user went on after, this session

    def resumed(self, silence_secs: float) -> None:
        """The user spoke again after `silence_secs` inside their turn."""
        if silence_secs < MIN_PAUSE_SECS:
            return
        self.resumes += 1
        self.learned_secs = max(self.learned_secs, silence_secs + MARGIN_SECS)

    def turn_ended(self, had_pause: bool) -> None:
        """A turn ended; `had_pause`: the user resumed after a real pause in it."""
        if not had_pause:
            self.learned_secs *= DECAY
            if self.learned_secs < MIN_PAUSE_SECS:
                self.learned_secs = 0.0

    def wait(self, base_secs: float, max_secs: float) -> float:
        """The silence that ends an unsure pause for this user."""
        return min(max(base_secs, self.learned_secs), max(base_secs, max_secs))

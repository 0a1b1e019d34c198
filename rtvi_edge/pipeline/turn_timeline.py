"""Where one spoken turn's time went: named moments from the user's pause to the first audio.

Each stage marks the monotonic time it was reached (the first time only: a
recheck or a second verdict does not move it), with an optional value (a
probability). `turn_metrics.py` logs them relative to the end of the speech, so
`bench/turn_stages.py` can say which stage the user waits for.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class TurnTimeline:
    marks: dict[str, float] = field(default_factory=dict)
    values: dict[str, float | str | None] = field(default_factory=dict)

    def mark(self, name: str, value: float | str | None = None, at: float | None = None) -> None:
        """`name` reached now (or `at`); a second mark of the same name is ignored."""
        if name not in self.marks:
            self.marks[name] = time.monotonic() if at is None else at
            if value is not None:
                self.values[name] = value

    def clear(self) -> None:
        self.marks.clear()
        self.values.clear()

    def relative_ms(self, origin: float) -> dict[str, float]:
        """Each mark in ms after `origin`, in the order they happened."""
        ordered = sorted(self.marks.items(), key=lambda kv: kv[1])
        return {name: round((at - origin) * 1000, 1) for name, at in ordered}

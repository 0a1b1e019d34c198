"""Where a conversation's voice goes: a paced audio sink (an audio primitive, no pipeline).

Clients (and sound cards) play whatever they are handed, so pieces are handed
over in real time with a small lead; `buffered()` says how much handed-over
audio has not been heard yet, which is what interruption trims away.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class AudioSink(Protocol):
    sample_rate: int

    async def play(self, pcm: bytes) -> None:
        """Hand over one piece of mono s16le audio at `sample_rate`, when it is due."""
        ...

    def buffered(self) -> float:
        """Seconds of handed-over audio not yet heard."""
        ...

    async def discard(self) -> None:
        """Stop at once: drop whatever can still be dropped."""
        ...


class Pacer:
    """Real-time pacing: a piece is released `lead` seconds before it is due."""

    def __init__(self, lead: float = 0.08) -> None:
        self.lead = lead
        self._next: float | None = None  # when the next piece starts playing

    async def wait_turn(self, duration: float) -> None:
        now = time.monotonic()
        if self._next is None or self._next < now:
            self._next = now  # playback ran dry: start again from now
        due = self._next - self.lead
        if due > now:
            await asyncio.sleep(due - now)
        if self._next is None:  # reset while this piece waited (another player discarded)
            self._next = time.monotonic()
        self._next += duration

    def buffered(self) -> float:
        if self._next is None:
            return 0.0
        return max(0.0, self._next - time.monotonic())

    def reset(self) -> None:
        self._next = None


class NullSink:
    """Paced like a real device, heard by nobody (tests, headless text sessions)."""

    def __init__(self, sample_rate: int = 24000) -> None:
        self.sample_rate = sample_rate
        self.pacer = Pacer()
        self.played = 0

    async def play(self, pcm: bytes) -> None:
        await self.pacer.wait_turn(len(pcm) / 2 / self.sample_rate)
        self.played += len(pcm)

    def buffered(self) -> float:
        return self.pacer.buffered()

    async def discard(self) -> None:
        self.pacer.reset()

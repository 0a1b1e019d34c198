"""Native memory handed back after answers (glibc malloc_trim), rate-limited."""

from __future__ import annotations

import asyncio
import sys

import pytest

from rtvi_edge import events as ev
from rtvi_edge.memory import MemoryTrimmer, libc_trim


async def test_trims_after_answers_at_most_every_interval() -> None:
    now = [100.0]
    trims: list[float] = []
    bus = ev.EventBus()
    trimmer = MemoryTrimmer(bus, lambda: trims.append(now[0]), 5.0, clock=lambda: now[0])
    task = asyncio.create_task(trimmer.run())
    await asyncio.sleep(0)
    bus.publish(ev.TurnMetrics(session_id="a"))
    bus.publish(ev.BotStoppedSpeaking(session_id="b"))  # a second answer at once: no trim
    bus.publish(ev.UserStartedSpeaking(session_id="a"))  # not an answer
    for _ in range(20):
        await asyncio.sleep(0.01)
    now[0] = 106.0
    bus.publish(ev.BotStoppedSpeaking(session_id="b"))
    for _ in range(20):
        await asyncio.sleep(0.01)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert trims == [100.0, 106.0]


async def test_without_malloc_trim_it_does_nothing() -> None:
    trimmer = MemoryTrimmer(ev.EventBus(), None)
    await asyncio.wait_for(trimmer.run(), 1)  # returns at once
    await trimmer.after_answer()
    assert trimmer.trims == 0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc")
def test_glibc_has_malloc_trim() -> None:
    trim = libc_trim()
    assert trim is not None
    trim()

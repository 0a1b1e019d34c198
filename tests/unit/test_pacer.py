"""Real-time pacing on a fake clock: each piece goes out `lead` seconds before it is due,
so the audio leaves over its own duration however fast it is made."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from rtvi_edge.audio import sink as sink_mod
from rtvi_edge.audio.sink import Pacer


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, secs: float) -> None:
        self.now += secs


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    # only the pacer's module sees the fake clock (the event loop keeps the real one)
    monkeypatch.setattr(sink_mod, "time", SimpleNamespace(monotonic=fake.monotonic))
    monkeypatch.setattr(sink_mod, "asyncio", SimpleNamespace(sleep=fake.sleep))
    return fake


async def test_pieces_leave_as_they_are_due(clock: FakeClock) -> None:
    pacer = Pacer(lead=0.08)
    sent = []
    for _ in range(25):  # 25 pieces of 40 ms: one second of audio, made at once
        await pacer.wait_turn(0.04)
        sent.append(clock.now - 100.0)
    assert sent[0] == 0.0  # the first at once
    assert sent[-1] == pytest.approx(24 * 0.04 - 0.08)  # the last `lead` before it plays
    assert pacer.buffered() == pytest.approx(0.08 + 0.04)


async def test_a_pause_in_the_audio_starts_the_schedule_again(clock: FakeClock) -> None:
    pacer = Pacer(lead=0.0)
    await pacer.wait_turn(0.5)
    clock.now += 2.0  # nothing to play for a while: playback ran dry
    before = clock.now
    await pacer.wait_turn(0.5)
    assert clock.now == before  # not made to wait for a schedule in the past

"""The wake gate: when the microphone reaches the conversation (monotonic time given)."""

from __future__ import annotations

from rtvi_edge.config import WakeMode
from rtvi_edge.pipeline.wake_gate import WakeGate


def test_always_hears() -> None:
    assert WakeGate(WakeMode.ALWAYS).hears(0.0)


def test_a_wake_opens_a_window_to_start_speaking() -> None:
    gate = WakeGate(WakeMode.WAKE_WORD, listen_secs=8, follow_up_secs=5)
    assert not gate.hears(100.0)
    gate.wake(100.0)
    assert gate.hears(107.9) and not gate.hears(108.1)


def test_a_turn_keeps_it_awake_and_its_end_opens_the_follow_up() -> None:
    gate = WakeGate(WakeMode.PUSH_TO_TALK, listen_secs=2, follow_up_secs=5)
    gate.wake(0.0)
    gate.turn_started()
    assert gate.hears(60.0)  # a long answer: still awake
    gate.turn_finished(60.0)
    assert gate.hears(64.9) and not gate.hears(65.1)
    gate.wake(70.0)
    gate.sleep()
    assert not gate.hears(70.1)

"""The hands-free parts a conversation may be built with, as the pipeline needs them.

The pipeline owns these interfaces; `audio/` implements them (the WebRTC echo
canceller, the microWakeWord detector) and the composition root plugs them in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from rtvi_edge.pipeline.wake_gate import WakeGate


class EchoFilter(Protocol):
    def process(self, mic: bytes) -> bytes:
        """The bot's own voice taken out of one 16 kHz microphone frame."""
        ...


class WakeDetector(Protocol):
    name: str

    def process(self, pcm16k: bytes) -> bool:
        """True when this frame completes the wake word."""
        ...


@dataclass(frozen=True)
class HandsFree:
    echo: EchoFilter | None = None
    wake_gate: WakeGate | None = None  # None: the microphone always reaches the listener
    wake_detector: WakeDetector | None = None
    earcon: bytes = b""  # played when woken

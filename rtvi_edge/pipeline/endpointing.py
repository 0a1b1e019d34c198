"""Phrase endpointing: a sans-I/O state machine over per-frame speech probabilities.

quiet → starting → speaking ⇄ paused → quiet. `PAUSED` fires after a short
silence (the pipeline starts transcribing and answering speculatively then),
`ENDED` after `stop_secs` of silence (the turn is committed), `RESUMED` when
speech comes back inside the pause (the speculation is thrown away).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Signal(enum.Enum):
    STARTED = "started"
    PAUSED = "paused"
    RESUMED = "resumed"
    ENDED = "ended"


@dataclass(frozen=True)
class EndpointParams:
    threshold: float = 0.5
    start_secs: float = 0.1
    stop_secs: float = 0.35
    min_speech_secs: float = 0.15
    pause_secs: float = 0.064  # two VAD frames: when the transcript is guessed
    hysteresis: float = 0.15  # speech continues while prob >= threshold - hysteresis


class Endpointer:
    def __init__(self, params: EndpointParams) -> None:
        self.params = params
        self.state = "quiet"
        self._voiced = 0.0  # consecutive speech while starting
        self._speech = 0.0  # speech in the current utterance
        self._silence = 0.0  # trailing silence in the current utterance

    @property
    def speech_secs(self) -> float:
        return self._speech

    @property
    def silence_secs(self) -> float:
        return self._silence

    def reset(self) -> None:
        self.state = "quiet"
        self._voiced = self._speech = self._silence = 0.0

    def feed(self, prob: float, frame_secs: float) -> list[Signal]:
        p = self.params
        out: list[Signal] = []
        if self.state == "quiet":
            if prob >= p.threshold:
                self.state, self._voiced = "starting", frame_secs
                if self._voiced >= p.start_secs:
                    self._begin(out)
        elif self.state == "starting":
            if prob >= p.threshold - p.hysteresis:
                self._voiced += frame_secs
                if self._voiced >= p.start_secs:
                    self._begin(out)
            else:
                self.state, self._voiced = "quiet", 0.0
        elif prob >= (p.threshold if self.state == "paused" else p.threshold - p.hysteresis):
            self._speech += frame_secs + self._silence
            self._silence = 0.0
            if self.state == "paused":
                out.append(Signal.RESUMED)
            self.state = "speaking"
        else:
            self._silence += frame_secs
            if self.state == "speaking" and self._silence >= p.pause_secs:
                self.state = "paused"
                out.append(Signal.PAUSED)
            if self.state == "paused" and self._silence >= p.stop_secs:
                out.append(Signal.ENDED)
                self.state = "quiet"
                self._voiced = 0.0
        return out

    def _begin(self, out: list[Signal]) -> None:
        self.state = "speaking"
        self._speech, self._silence = self._voiced, 0.0
        out.append(Signal.STARTED)

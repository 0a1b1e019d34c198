"""Phrase endpointing: a sans-I/O state machine over per-frame speech probabilities.

quiet → starting → speaking ⇄ paused → quiet. `PAUSED` fires after a short
silence (the pipeline starts transcribing and answering speculatively then),
`ENDED` after `stop_secs` of silence (the turn is committed), `RESUMED` when
speech comes back inside the pause (the speculation is thrown away).

While the bot speaks a `BargeIn` raises the bar for starting: a clear voice
(one frame at `threshold`) and `min_secs` of speech (at `threshold - hysteresis`)
within the last `window_secs`. What an echo canceller leaves of the bot's own
voice (short, weaker bursts) does not interrupt it; a user talking over it does,
even though double-talk suppression chops the user's voice into pieces.
"""

from __future__ import annotations

import enum
from collections import deque
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


@dataclass(frozen=True)
class BargeIn:
    threshold: float = 0.85  # a frame this clearly speech is needed to interrupt
    min_secs: float = 0.2  # and this much speech within the window
    window_secs: float = 0.5


class Endpointer:
    def __init__(self, params: EndpointParams) -> None:
        self.params = params
        self.state = "quiet"
        self._voiced = 0.0  # consecutive speech while starting
        self._speech = 0.0  # speech in the current utterance
        self._silence = 0.0  # trailing silence in the current utterance
        self._recent: deque[float] = deque()  # barge-in: probabilities in the window
        self.onset_secs = 0.0  # at STARTED: how long before this frame the speech began

    @property
    def speech_secs(self) -> float:
        return self._speech

    @property
    def silence_secs(self) -> float:
        return self._silence

    def reset(self) -> None:
        self.state = "quiet"
        self._voiced = self._speech = self._silence = 0.0
        self._recent.clear()

    def feed(self, prob: float, frame_secs: float, barge_in: BargeIn | None = None) -> list[Signal]:
        p = self.params
        out: list[Signal] = []
        if self.state in ("quiet", "starting") and barge_in is not None:
            self._barge_in(prob, frame_secs, barge_in, out)
        elif self.state == "quiet":
            self._recent.clear()
            if prob >= p.threshold:
                self.state, self._voiced = "starting", frame_secs
                if self._voiced >= p.start_secs - 1e-9:
                    self._begin(out, onset=0.0)
        elif self.state == "starting":
            self._recent.clear()
            if prob >= p.threshold - p.hysteresis:
                self._voiced += frame_secs
                if self._voiced >= p.start_secs - 1e-9:
                    self._begin(out, onset=self._voiced - frame_secs)
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

    def _barge_in(self, prob: float, frame_secs: float, b: BargeIn, out: list[Signal]) -> None:
        p = self.params
        floor = max(p.threshold, b.threshold) - p.hysteresis
        self._recent.append(prob)
        while len(self._recent) * frame_secs > b.window_secs + 1e-9:
            self._recent.popleft()
        voiced = [i for i, q in enumerate(self._recent) if q >= floor]
        self._voiced = len(voiced) * frame_secs
        self.state = "starting" if voiced else "quiet"
        need = max(p.start_secs, b.min_secs)
        if self._voiced >= need - 1e-9 and max(self._recent) >= b.threshold:
            self._begin(out, onset=(len(self._recent) - 1 - voiced[0]) * frame_secs)

    def _begin(self, out: list[Signal], onset: float) -> None:
        self.state = "speaking"
        self.onset_secs = onset
        self._speech, self._silence = self._voiced, 0.0
        self._recent.clear()
        out.append(Signal.STARTED)

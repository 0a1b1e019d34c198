"""Phrase endpointing: a sans-I/O state machine over VAD frames and turn verdicts.

States: QUIET → STARTING → SPEAKING ⇄ PAUSED → QUIET, one transition function
(`step`) over two kinds of event: a VAD `Frame` and a `TurnVerdict` (from the
turn model). Signals out: `STARTED`; `PAUSED` after a short silence (the
pipeline transcribes and answers speculatively then); `ASSESS` when the turn
model should judge the audio so far; `RESUMED` when speech comes back inside
the pause (the speculation is thrown away); `ENDED` when the turn is committed.

When the turn ends:
- turn model off: after `stop_secs` of silence (a fixed timeout);
- turn model on: `ASSESS` at `turn_stop_secs` of silence (and again every
  `turn_recheck_secs`). The latest verdict decides: at or above
  `turn_threshold` (complete) the turn ends at once; under
  `turn_hold_threshold` (incomplete) the silence may last up to
  `turn_max_secs` (someone thinking in mid-sentence; only a complete verdict
  ends such a pause early); in between (unsure) it ends after
  `turn_unsure_secs`. A first verdict still on its way then is waited for at
  most `turn_grace_secs` more (it runs at a low priority beside the
  speculative answer, which takes about as long); after that the pause counts
  as unsure, so a slow CPU costs at most the grace. A verdict that cannot be had
  (`probability=None`: the model failed) falls back to the fixed timeout.
- the transcript's ending (`TextCue`, `text_cue.py`, when `turn_text`): one
  that ends on "for", "the", "and", a filler or "..." is unfinished whatever
  the model says (wait up to `turn_max_secs`); one closed by . ? ! after a word
  that can end a sentence turns an *unfinished* verdict into *unsure*.
- the language model's end-of-turn probability for the transcript (`TextEou`,
  `eou_text.py`, when `turn_llm`): fused with the audio model's in logits
  (`fused_probability`), the verdict is taken on the fused value. Until it has
  come no pause ends (up to `turn_max_secs`): the answer needs the same words;
  the text alone never ends a turn, it can only hold it or leave it unsure.
- dynamic endpointing (`adaptive_wait.py`, when `turn_adapt`): a user who went
  on after pauses of some length gets unsure pauses at least that long.

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

from rtvi_edge.pipeline.adaptive_wait import AdaptiveWait
from rtvi_edge.pipeline.eou_fusion import fused_probability, logit
from rtvi_edge.pipeline.text_cue import TextEnd


class State(enum.StrEnum):
    QUIET = "quiet"
    STARTING = "starting"  # voice heard, not yet long enough to be speech
    SPEAKING = "speaking"
    PAUSED = "paused"  # silence inside an utterance: the turn may be over


class Signal(enum.Enum):
    STARTED = "started"
    PAUSED = "paused"
    ASSESS = "assess"
    RESUMED = "resumed"
    ENDED = "ended"


@dataclass(frozen=True)
class EndpointParams:
    threshold: float = 0.5
    start_secs: float = 0.1
    stop_secs: float = 0.35  # the fixed timeout (turn model off, or unavailable)
    min_speech_secs: float = 0.15
    pause_secs: float = 0.032  # one VAD frame: when the transcript is guessed (and answered)
    hysteresis: float = 0.15  # speech continues while prob >= threshold - hysteresis
    # The turn model's policy; the defaults are the calibrated ones (docs/turn-taking.md).
    turn_model: bool = False  # a turn model judges each pause (Signal.ASSESS)
    turn_threshold: float = 0.7  # verdict at or above: complete, the turn ends now
    turn_hold_threshold: float = 0.05  # verdict below: unfinished, wait up to turn_max_secs
    turn_stop_secs: float = 0.128  # silence before the turn model is asked
    turn_unsure_secs: float = 0.288  # the silence that ends an unsure turn
    turn_recheck_secs: float = 0.128  # ask again this often (0 = once a pause)
    turn_max_secs: float = 1.6  # the longest silence inside a turn
    turn_grace_secs: float = 0.16  # a first verdict still on its way is waited for this much
    turn_text: bool = True  # the transcript's ending counts too (TextCue)
    turn_llm: bool = False  # the LLM's end-of-turn probability counts too (TextEou)
    turn_llm_weight: float = 1.0  # its weight beside the audio model's, in logits
    turn_llm_neutral: float = 0.1  # the LLM probability that pulls neither way
    # An unfinished pause may last turn_max_secs when the fused probability is at or under
    # this; between it and turn_hold_threshold the pause allowed shrinks (in logits) towards
    # turn_unsure_secs, so a rising verdict shortens the wait. 0: always turn_max_secs.
    turn_hold_floor: float = 0.0
    turn_adapt: bool = True  # users who pause longer get longer unsure pauses
    turn_recover: bool = True  # speech right after the device took the turn continues it
    turn_backchannel: bool = True  # "mm-hm" over the bot holds its voice, does not stop it


@dataclass(frozen=True)
class BargeIn:
    threshold: float = 0.85  # a frame this clearly speech is needed to interrupt
    min_secs: float = 0.2  # and this much speech within the window
    window_secs: float = 0.5


@dataclass(frozen=True)
class Frame:
    """One VAD frame: its speech probability and length."""

    prob: float
    secs: float
    barge_in: BargeIn | None = None


@dataclass(frozen=True)
class TurnVerdict:
    """The turn model's answer to the `ASSESS` numbered `pause`."""

    pause: int
    probability: float | None  # None: no verdict (the model failed)


@dataclass(frozen=True)
class TextCue:
    """How the transcript at the pause numbered `pause` ends."""

    pause: int
    end: TextEnd


@dataclass(frozen=True)
class TextEou:
    """The language model's probability that the transcript at pause `pause` ends the turn."""

    pause: int
    probability: float | None  # None: none to be had (no local LLM, or it failed)


Event = Frame | TurnVerdict | TextCue | TextEou


class Verdict(enum.Enum):
    NONE = "none"  # none yet in this pause
    COMPLETE = "complete"
    UNSURE = "unsure"
    INCOMPLETE = "incomplete"
    UNAVAILABLE = "unavailable"


class Endpointer:
    def __init__(self, params: EndpointParams) -> None:
        self.params = params
        self.state = State.QUIET
        self.verdict = Verdict.NONE  # the latest in this pause
        self.text_end = TextEnd.UNKNOWN  # how this pause's transcript ends
        self.asking = False  # a verdict is awaited
        self.pause_id = 0  # numbers the pauses, so a late verdict is never misapplied
        self.last_probability: float | None = None
        self.text_probability: float | None = None  # the LLM's, for this pause
        self.text_eou_done = False  # the LLM's answer for this pause came (or none will)
        self.adapt = AdaptiveWait()
        self._resumed_in_turn = False  # the user went on after a real pause in this turn
        self._voiced = 0.0  # consecutive speech while starting
        self._speech = 0.0  # speech in the current utterance
        self._silence = 0.0  # trailing silence in the current utterance
        self._silence_before = 0.0  # the silence just before speech resumed
        self._next_assess = 0.0  # silence at which the turn model is asked (again)
        self._recent: deque[float] = deque()  # barge-in: probabilities in the window
        self.onset_secs = 0.0  # at STARTED: how long before this frame the speech began
        self.ended_by = ""  # at ENDED: the verdict and the transcript's ending that decided

    @property
    def speech_secs(self) -> float:
        return self._speech

    @property
    def silence_secs(self) -> float:
        return self._silence

    @property
    def in_speech(self) -> bool:
        return self.state in (State.SPEAKING, State.PAUSED)

    def reset(self) -> None:
        self.state = State.QUIET
        self.verdict, self.asking = Verdict.NONE, False
        self.text_end = TextEnd.UNKNOWN
        self._voiced = self._speech = self._silence = 0.0
        self._recent.clear()

    def feed(self, prob: float, frame_secs: float, barge_in: BargeIn | None = None) -> list[Signal]:
        return self.step(Frame(prob, frame_secs, barge_in))

    def step(self, event: Event) -> list[Signal]:
        """The transition function: one event in, the signals it causes out."""
        out: list[Signal] = []
        if isinstance(event, TurnVerdict):
            self._on_verdict(event, out)
        elif isinstance(event, TextEou):
            self._on_text_eou(event, out)
        elif isinstance(event, TextCue):
            self._on_text(event, out)
        elif self.state in (State.QUIET, State.STARTING) and event.barge_in is not None:
            self._barge_in(event.prob, event.secs, event.barge_in, out)
        elif self.state is State.QUIET:
            self._quiet(event, out)
        elif self.state is State.STARTING:
            self._starting(event, out)
        else:
            self._in_utterance(event, out)
        return out

    # -- states ---------------------------------------------------------------
    def _quiet(self, f: Frame, out: list[Signal]) -> None:
        self._recent.clear()
        if f.prob >= self.params.threshold:
            self.state, self._voiced = State.STARTING, f.secs
            if self._voiced >= self.params.start_secs - 1e-9:
                self._begin(out, onset=0.0)

    def _starting(self, f: Frame, out: list[Signal]) -> None:
        p = self.params
        self._recent.clear()
        if f.prob >= p.threshold - p.hysteresis:
            self._voiced += f.secs
            if self._voiced >= p.start_secs - 1e-9:
                self._begin(out, onset=self._voiced - f.secs)
        else:
            self.state, self._voiced = State.QUIET, 0.0

    def _in_utterance(self, f: Frame, out: list[Signal]) -> None:
        p = self.params
        paused = self.state is State.PAUSED
        if f.prob >= (p.threshold if paused else p.threshold - p.hysteresis):
            self._silence_before = self._silence
            self._speech += f.secs + self._silence
            self._silence = 0.0
            self.verdict, self.asking = Verdict.NONE, False
            self.text_end = TextEnd.UNKNOWN
            if paused:
                if self._silence_before >= self.adapt_min_secs():
                    self.adapt.resumed(self._silence_before)
                    self._resumed_in_turn = True
                out.append(Signal.RESUMED)
            self.state = State.SPEAKING
            return
        self._silence += f.secs
        if self.state is State.SPEAKING and self._silence >= p.pause_secs - 1e-9:
            self.state = State.PAUSED
            self.pause_id += 1
            self.last_probability = self.text_probability = None
            self.text_eou_done = not p.turn_llm
            self._next_assess = p.turn_stop_secs
            out.append(Signal.PAUSED)
        if self.state is not State.PAUSED:
            return
        if self._should_end():
            self._end(out)
        elif self._should_assess():
            self.asking = True
            recheck = p.turn_recheck_secs
            self._next_assess = self._silence + recheck if recheck > 0 else float("inf")
            out.append(Signal.ASSESS)

    def _on_verdict(self, v: TurnVerdict, out: list[Signal]) -> None:
        if self.state is not State.PAUSED or v.pause != self.pause_id:
            return  # speech resumed, or the turn already ended: stale
        self.last_probability = v.probability
        self.asking = False
        if v.probability is None:
            self.verdict = Verdict.UNAVAILABLE
        else:
            self._classify()
        if self._should_end():
            self._end(out)

    def _on_text_eou(self, e: TextEou, out: list[Signal]) -> None:
        if self.state is not State.PAUSED or e.pause != self.pause_id:
            return
        self.text_probability, self.text_eou_done = e.probability, True
        if self.verdict is not Verdict.UNAVAILABLE:
            if self.verdict is Verdict.INCOMPLETE:
                self.verdict = Verdict.NONE  # judged on the audio alone: the words re-decide
            self._classify()
        if self._should_end():
            self._end(out)

    def fused(self) -> float | None:
        """P(the turn is over) from the audio model and (when on) the language model."""
        p = self.params
        text = self.text_probability if p.turn_llm else None
        return fused_probability(self.last_probability, text, p.turn_llm_weight, p.turn_llm_neutral)

    def _classify(self) -> None:
        f = self.fused()
        if f is None:
            return
        p = self.params
        if self.last_probability is None:
            if f < p.turn_hold_threshold:
                self.verdict = Verdict.INCOMPLETE  # the text alone may hold a turn, no more
        elif f >= p.turn_threshold:
            self.verdict = Verdict.COMPLETE
        elif self.verdict is Verdict.INCOMPLETE:
            pass  # unfinished stays unfinished until it is called complete
        elif f >= p.turn_hold_threshold:
            self.verdict = Verdict.UNSURE
        else:
            self.verdict = Verdict.INCOMPLETE

    def _on_text(self, cue: TextCue, out: list[Signal]) -> None:
        if self.state is not State.PAUSED or cue.pause != self.pause_id:
            return
        self.text_end = cue.end
        if self._should_end():
            self._end(out)

    # -- decisions ------------------------------------------------------------
    def _should_assess(self) -> bool:
        p = self.params
        return (
            p.turn_model
            and not self.asking
            and self.verdict is not Verdict.UNAVAILABLE
            and self._silence >= self._next_assess - 1e-9
        )

    def required_silence(self) -> float:
        """How much silence ends the turn, given what the turn model said so far."""
        p = self.params
        if not p.turn_model or self.verdict is Verdict.UNAVAILABLE:
            return self.adapt.wait(p.stop_secs, p.turn_max_secs) if p.turn_adapt else p.stop_secs
        text = self.text_end if p.turn_text else TextEnd.UNKNOWN
        if text is TextEnd.OPEN or not self.text_eou_done:
            # Unfinished words; or the words and the LLM's reading of them are still on
            # their way (a slow CPU): the answer needs them anyway, so they are waited for.
            return p.turn_max_secs
        if self.verdict is Verdict.COMPLETE:
            return p.turn_stop_secs
        unsure = max(p.turn_unsure_secs, p.turn_stop_secs)
        if p.turn_adapt:
            unsure = self.adapt.wait(unsure, p.turn_max_secs)
        if self.verdict is Verdict.INCOMPLETE and (
            text is not TextEnd.CLOSED or self._llm_judged()
        ):
            # (a closing mark does not overrule the LLM: it read it)
            return max(self._hold_secs(), unsure)
        # Unsure, or no verdict yet: one on its way is worth a little more silence.
        if self.asking and self.verdict is Verdict.NONE:
            return unsure + p.turn_grace_secs
        return unsure

    def _hold_secs(self) -> float:
        """The silence an unfinished pause may last: turn_max_secs at or under
        turn_hold_floor, less as the fused probability rises towards turn_hold_threshold."""
        p = self.params
        f = self.fused()
        if p.turn_hold_floor <= 0 or f is None or f <= p.turn_hold_floor:
            return p.turn_max_secs
        low, high = logit(p.turn_hold_floor), logit(p.turn_hold_threshold)
        if high <= low:
            return p.turn_max_secs
        share = min((logit(f) - low) / (high - low), 1.0)
        unsure = max(p.turn_unsure_secs, p.turn_stop_secs)
        return p.turn_max_secs - (p.turn_max_secs - unsure) * share

    def _llm_judged(self) -> bool:
        return self.params.turn_llm and self.text_probability is not None

    def adapt_min_secs(self) -> float:
        """A silence the user goes on after counts as a pause from this long on."""
        return max(self.params.turn_stop_secs, 0.2)

    def continued(self, silence_secs: float) -> None:
        """The user went on after the turn had ended (`silence_secs` after their last word)."""
        self.adapt.resumed(silence_secs)
        self._resumed_in_turn = True

    def _should_end(self) -> bool:
        return self._silence >= self.required_silence() - 1e-9

    def _end(self, out: list[Signal]) -> None:
        out.append(Signal.ENDED)
        self.ended_by = f"{self.verdict.value}/{self.text_end.value}"
        if self.params.turn_adapt:
            self.adapt.turn_ended(self._resumed_in_turn)
        self._resumed_in_turn = False
        self.state = State.QUIET
        self.verdict, self.asking = Verdict.NONE, False
        self.text_end = TextEnd.UNKNOWN
        self._voiced = 0.0

    def _barge_in(self, prob: float, frame_secs: float, b: BargeIn, out: list[Signal]) -> None:
        p = self.params
        floor = max(p.threshold, b.threshold) - p.hysteresis
        self._recent.append(prob)
        while len(self._recent) * frame_secs > b.window_secs + 1e-9:
            self._recent.popleft()
        voiced = [i for i, q in enumerate(self._recent) if q >= floor]
        self._voiced = len(voiced) * frame_secs
        self.state = State.STARTING if voiced else State.QUIET
        need = max(p.start_secs, b.min_secs)
        if self._voiced >= need - 1e-9 and max(self._recent) >= b.threshold:
            self._begin(out, onset=(len(self._recent) - 1 - voiced[0]) * frame_secs)

    def _begin(self, out: list[Signal], onset: float) -> None:
        self.state = State.SPEAKING
        self.verdict, self.asking = Verdict.NONE, False
        self.text_end = TextEnd.UNKNOWN
        self.onset_secs = onset
        self._speech, self._silence = self._voiced, 0.0
        self._silence_before = 0.0
        self._recent.clear()
        out.append(Signal.STARTED)

"""The user's side of the pipeline on a WAV, offline: VAD → endpointer (± turn model) → STT.

Runs the real `UserListener` with the real engines, fed 32 ms at a time. A turn
model verdict is applied `verdict_frames` VAD frames after it was asked for
(about what one inference takes on a quiet 2-core machine), whatever the CPU
load, so the decisions are those the live daemon makes on the same audio.
Used to calibrate the turn model's thresholds and to count premature cut-offs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rtvi_edge.engines.base import SpeechToText, VoiceActivityModel
from rtvi_edge.engines.turn_smart import SharedTurnModel
from rtvi_edge.pipeline.endpointing import EndpointParams, Signal, TextCue
from rtvi_edge.pipeline.listener import SAMPLE_RATE, UserListener, Utterance
from rtvi_edge.pipeline.text_cue import TextEnd


@dataclass
class SimTurn:
    start_secs: float  # audio time (seconds into the WAV) of the start signal
    end_secs: float  # audio time of the end signal
    text: str = ""


@dataclass
class SimPause:
    """One pause inside an utterance: what the turn model said as the silence grew."""

    at: float  # audio time of the PAUSED signal
    verdicts: list[tuple[float, float | None]] = field(default_factory=list)  # (silence, p)
    resumed_after: float | None = None  # silence when speech came back; None: it ended
    text_end: TextEnd | None = None  # how the speculative transcript at this pause ended
    text_probability: float | None = None  # the LLM's end-of-turn probability for it
    text: str = ""  # the speculative transcript


@dataclass
class SimResult:
    turns: list[SimTurn] = field(default_factory=list)
    probabilities: list[tuple[float, float | None]] = field(default_factory=list)  # (t, p)
    pauses: list[SimPause] = field(default_factory=list)


SHARED_TURN_MODEL = SharedTurnModel()  # the bench's one model, loaded on first use


EouFn = Callable[[str], "float | None"]  # the LLM's end-of-turn probability for a transcript


class _Recorder:
    def __init__(self, clock: Callable[[], float], eou: EouFn | None, out: SimResult) -> None:
        self.clock = clock
        self.turns: list[SimTurn] = []
        self.done: list[Utterance] = []
        self.eou, self.out = eou, out
        self.pending_eou: tuple[int, float | None] | None = None  # lands a frame later
        self.pause_id: Callable[[], int] = lambda: 0

    def on_speech_started(self) -> None:
        self.turns.append(SimTurn(self.clock(), 0.0))

    def on_interim(self, text: str) -> None:
        pass

    def on_speech_paused(self, text: str, utt: Utterance) -> None:
        p = self.eou(text) if self.eou is not None and text else None
        if self.out.pauses:
            self.out.pauses[-1].text_probability, self.out.pauses[-1].text = p, text
        self.pending_eou = (self.pause_id(), p)

    def on_speech_resumed(self) -> None:
        pass

    def on_utterance(self, utt: Utterance) -> None:
        self.done.append(utt)

    def on_stt_error(self, message: str) -> None:
        raise RuntimeError(message)


class _RecordingTurnModel(SharedTurnModel):
    def __init__(self, inner: SharedTurnModel, clock: Callable[[], float], out: SimResult) -> None:
        super().__init__()
        self._inner, self._clock, self._out = inner, clock, out

        self.asked: list[tuple[float, float]] = []  # (time, silence) of each ASSESS, in order

    def probability(self, pcm: bytes) -> float | None:
        p = self._inner.probability(pcm)
        at, silence = self.asked.pop(0) if self.asked else (self._clock(), 0.0)
        self._out.probabilities.append((at, p))
        if self._out.pauses:
            self._out.pauses[-1].verdicts.append((silence, p))
        return p


async def simulate(
    pcm: bytes,
    stt: SpeechToText,
    vad: VoiceActivityModel,
    params: EndpointParams,
    turn_model: SharedTurnModel | None = None,
    transcribe: bool = True,
    verdict_frames: int = 2,
    text_frames: int = 2,
    eou: EouFn | None = None,
) -> SimResult:
    """`eou`: the LLM's end-of-turn probability for the transcript at each pause
    (recorded; given to the endpointer a frame after the transcript when the
    params have `turn_llm`: about what the prefix evaluation takes)."""
    result = SimResult()
    fed = 0

    def clock() -> float:
        return fed / 2 / SAMPLE_RATE

    rec = _Recorder(clock, eou, result)
    model = _RecordingTurnModel(turn_model or SHARED_TURN_MODEL, clock, result)
    if not transcribe:
        stt = _NoStt()
    listener = UserListener(lambda: stt, vad.open_stream(), params, 10.0, rec, model)
    ep = listener.endpointer
    rec.pause_id = lambda: ep.pause_id
    step_once = ep.step

    def recording_step(event: Any) -> list[Signal]:
        before = ep.silence_secs
        if isinstance(event, TextCue) and event.pause == ep.pause_id and result.pauses:
            result.pauses[-1].text_end = event.end
        signals = step_once(event)
        if Signal.PAUSED in signals:
            result.pauses.append(SimPause(clock()))
        if Signal.RESUMED in signals and result.pauses:
            result.pauses[-1].resumed_after = before
        if Signal.ASSESS in signals:
            model.asked.append((clock(), ep.silence_secs))
        if Signal.RESUMED in signals or Signal.ENDED in signals:
            model.asked.clear()  # the listener cancels what it had asked
        return signals

    ep.step = recording_step  # type: ignore[method-assign]
    step = 512 * 2
    ends: list[float] = []
    original = listener._handle

    def handle(signals: list[Signal], now: float) -> None:
        if Signal.ENDED in signals:
            ends.append(clock())
        original(signals, now)

    listener._handle = handle  # type: ignore[method-assign]
    asked: dict[asyncio.Task[None], int] = {}

    async def land(task: asyncio.Task[None] | None, frames: int) -> None:
        # What a worker computes (a turn verdict; the speculative transcript and its
        # text cue) lands `frames` VAD frames after it was started, about as live.
        if task is None or task.done():
            return
        asked[task] = asked.get(task, 0) + 1
        if asked[task] > frames:
            await asyncio.gather(task, return_exceptions=True)

    def land_eou() -> None:
        if rec.pending_eou is not None:
            pause, p = rec.pending_eou
            rec.pending_eou = None
            if params.turn_llm:
                listener.text_eou(pause, p)

    for i in range(0, len(pcm), step):
        listener.feed(pcm[i : i + step])
        fed = i + step
        land_eou()
        await land(listener._speculation, text_frames)
        await land(listener._turn_task, verdict_frames)
    # silence after the file, until any turn still open ends
    silence = bytes(step)
    for _ in range(int(3.0 * SAMPLE_RATE / 512)):
        if not listener.in_speech:
            break
        listener.feed(silence)
        fed += step
        land_eou()
        await land(listener._speculation, text_frames)
        await land(listener._turn_task, verdict_frames)
    while len(rec.done) < len(ends):
        await asyncio.sleep(0.01)
    await listener.close()
    texts = [u.text for u in rec.done]
    turns = [t for t in rec.turns]
    for turn, end, text in zip(turns, ends, texts, strict=False):
        turn.end_secs, turn.text = end, text
    result.turns = [t for t, u in zip(turns, rec.done, strict=False) if u.text or not transcribe]
    return result


class _NoStt:
    name = "none"
    model_name = "none"
    streaming = False

    def open_stream(self) -> _NoStream:
        return _NoStream()


class _NoStream:
    def feed(self, pcm: bytes) -> None:
        pass

    def partial(self) -> str:
        return ""

    def finish(self) -> str:
        return "x"

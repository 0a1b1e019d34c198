"""The user's side of a conversation: VAD → endpointing → speech-to-text.

Audio is cut into VAD frames; speech opens an utterance whose STT work runs in
a worker task (blocking engine calls in threads). On the first pause the
transcript is computed speculatively, so little is left to do when the
endpoint fires. When the session uses the turn model, the endpointer asks for
a verdict at each pause (`Signal.ASSESS`) and the model runs in a thread on
the utterance's audio.

The audio handed to the STT is framed by the speech itself, not by the VAD's
frame grid: it starts `STT_PRE_SECS` before the loudness onset (zeros where
there was no audio) and stops `STT_POST_SECS` after the loudness end at the
pause, so the same sentence is transcribed the same way whatever came before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from rtvi_edge.engines.base import SpeechToText, SttStream, VadStream
from rtvi_edge.engines.turn_smart import SharedTurnModel
from rtvi_edge.pipeline import framing
from rtvi_edge.pipeline.endpointing import (
    BargeIn,
    Endpointer,
    EndpointParams,
    Signal,
    State,
    TextCue,
    TextEou,
    TurnVerdict,
)
from rtvi_edge.pipeline.text_cue import classify
from rtvi_edge.pipeline.turn_timeline import TurnTimeline

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
MAX_PREROLL_SECS = 1.0  # audio kept from before the VAD fired, to find where speech began
ONSET_REACH_SECS = 0.3  # the loudness onset may lie this far before the VAD's
STT_PRE_SECS = 0.5  # the STT hears this much before the speech onset (bench: WER)
STT_POST_SECS = 0.03  # and this much after its end (within the silent frame of a pause)
STT_DELAY_FRAMES = 6  # audio held back from the STT, so its end can be cut at the pause
TURN_PRE_SECS = 0.5  # the turn model hears this much before the onset
TURN_MAX_SECS = 8.0  # and at most this much in all (its window)
STREAMING_PARTIAL_SECS = 0.25


@dataclass
class Utterance:
    """Timing of one user utterance (monotonic seconds)."""

    started_at: float
    speech_end_at: float = 0.0
    paused_at: float = 0.0
    ended_at: float = 0.0
    speculated_at: float = 0.0  # speculative transcript ready
    final_at: float = 0.0  # final transcript ready
    text: str = ""
    timeline: TurnTimeline = field(default_factory=TurnTimeline)  # the last pause's stages


class ListenerCallbacks(Protocol):
    def on_speech_started(self) -> None: ...
    def on_interim(self, text: str) -> None: ...
    def on_speech_paused(self, text: str, utt: Utterance) -> None: ...
    def on_speech_resumed(self) -> None: ...
    def on_utterance(self, utt: Utterance) -> None: ...
    def on_stt_error(self, message: str) -> None: ...


class SttWorker:
    """Feeds one utterance's STT stream in order, off the event loop."""

    def __init__(
        self,
        stream: SttStream,
        streaming: bool,
        interim_secs: float,
        on_interim: Callable[[str], None],
    ) -> None:
        self._stream = stream
        self._streaming = streaming
        self._interim_secs = STREAMING_PARTIAL_SECS if streaming else interim_secs
        self._on_interim = on_interim
        self._queue: asyncio.Queue[bytes] = asyncio.Queue()
        self._fed_secs = 0.0
        self._last_partial_at = time.monotonic()
        self._last_text = ""
        self._idle = asyncio.Event()
        self._idle.set()
        self._task = asyncio.create_task(self._run(), name="stt-worker")

    def feed(self, pcm: bytes) -> None:
        self._idle.clear()
        self._queue.put_nowait(pcm)

    async def _run(self) -> None:
        while True:
            if self._queue.empty():
                self._idle.set()
            first = await self._queue.get()
            chunks = [first]
            while not self._queue.empty():
                chunks.append(self._queue.get_nowait())
            data = b"".join(chunks)
            self._fed_secs += len(data) / 2 / SAMPLE_RATE
            if self._streaming:
                await asyncio.to_thread(self._stream.feed, data)
            else:
                self._stream.feed(data)  # only buffers
            now = time.monotonic()
            if now - self._last_partial_at >= self._interim_secs and self._fed_secs >= 0.5:
                self._last_partial_at = now
                text = await asyncio.to_thread(self._stream.partial)
                if text and text != self._last_text:
                    self._last_text = text
                    self._on_interim(text)

    async def drained(self) -> None:
        while not (self._queue.empty() and self._idle.is_set()):
            await self._idle.wait()
            if not self._queue.empty():
                await asyncio.sleep(0)

    async def hypothesis(self) -> str:
        """Text for everything fed so far, without closing the utterance."""
        await self.drained()
        fn = self._stream.partial if self._streaming else self._stream.finish
        return await asyncio.to_thread(fn)

    async def finish(self) -> str:
        await self.drained()
        return await asyncio.to_thread(self._stream.finish)

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


class UserListener:
    def __init__(
        self,
        stt: Callable[[], SpeechToText],
        vad: VadStream,
        params: EndpointParams,
        interim_secs: float,
        callbacks: ListenerCallbacks,
        turn_model: SharedTurnModel,
    ) -> None:
        self._stt = stt
        self._vad = vad
        self._frame_bytes = vad.frame_samples * 2
        self._frame_secs = vad.frame_samples / SAMPLE_RATE
        self.endpointer = Endpointer(params)
        self.interim_secs = interim_secs
        self._cb = callbacks
        self._pending = b""
        self._preroll: deque[bytes] = deque(maxlen=int(MAX_PREROLL_SECS / self._frame_secs))
        self._unfed = bytearray()  # utterance audio not yet given to the STT
        self._stt_cut = False  # paused: the STT got the audio up to the speech end
        self._turn_audio = bytearray()  # what the turn model judges
        self._turn_model = turn_model
        self._turn_task: asyncio.Task[None] | None = None
        self._worker: SttWorker | None = None
        self._utt: Utterance | None = None
        self._speculation: asyncio.Task[None] | None = None
        self._end_task: asyncio.Task[None] | None = None
        self._closing: set[asyncio.Task[None]] = set()
        self.barge_in: BargeIn | None = None  # while the bot speaks: what may interrupt it
        self.deaf = False  # half-duplex: ignore the mic while the bot speaks
        # Told of each frame of speech while the bot speaks (early_hold.py).
        self.on_voice_over_bot: Callable[[], None] | None = None

    @property
    def in_speech(self) -> bool:
        return self.endpointer.in_speech

    def set_params(self, params: EndpointParams) -> None:
        self.endpointer.params = params

    def use_vad(self, vad: VadStream) -> None:
        """Another VAD from now on (an engine swap), between utterances only."""
        assert not self.in_speech
        self._vad = vad
        self._frame_bytes = vad.frame_samples * 2
        self._frame_secs = vad.frame_samples / SAMPLE_RATE
        self._preroll = deque(maxlen=int(MAX_PREROLL_SECS / self._frame_secs))

    def feed(self, pcm: bytes) -> None:
        """16 kHz mono s16le audio of any length."""
        self._pending += pcm
        fb = self._frame_bytes
        while len(self._pending) >= fb:
            frame, self._pending = self._pending[:fb], self._pending[fb:]
            self._frame(frame)

    def _frame(self, frame: bytes) -> None:
        if self.deaf:
            if self.endpointer.state is not State.QUIET:
                self._abort()
            self._preroll.clear()
            return
        prob = self._vad.probability(frame)
        in_utterance = self.endpointer.in_speech
        # Speech by the VAD's own bar: while the bot speaks, enough to hold its voice
        # (the barge-in rule's higher bar then decides whether it is a turn).
        voiced = self.barge_in is not None and prob >= self.endpointer.params.threshold
        if voiced and not in_utterance and self.on_voice_over_bot is not None:
            self.on_voice_over_bot()
        signals = self.endpointer.feed(prob, self._frame_secs, self.barge_in)
        now = time.monotonic()
        if Signal.STARTED in signals:
            self._start_utterance(now, frame)
        elif not in_utterance:
            self._preroll.append(frame)
        else:
            self._keep(frame)
        if Signal.RESUMED in signals:
            self._resume()
        self._handle(signals, now)

    def _handle(self, signals: list[Signal], now: float) -> None:
        if Signal.PAUSED in signals:
            self._pause(now)
        if Signal.ASSESS in signals:
            self._assess()
        if Signal.ENDED in signals:
            self._end(now)

    def _keep(self, frame: bytes) -> None:
        """An utterance frame: to the turn model's buffer, and (delayed) to the STT."""
        self._turn_audio += frame
        excess = len(self._turn_audio) - int(TURN_MAX_SECS * SAMPLE_RATE) * 2
        if excess > 0:
            del self._turn_audio[:excess]
        self._unfed += frame
        if not self._stt_cut:
            self._feed_stt(len(self._unfed) - STT_DELAY_FRAMES * self._frame_bytes)

    def _feed_stt(self, nbytes: int) -> None:
        nbytes -= nbytes % 2
        if nbytes <= 0:
            return
        if self._worker is not None:
            self._worker.feed(bytes(self._unfed[:nbytes]))
        del self._unfed[:nbytes]

    def _pause(self, now: float) -> None:
        if self._utt is None or self._worker is None:
            return
        self._utt.paused_at = now
        self._utt.speech_end_at = now - self.endpointer.silence_secs
        self._utt.timeline.clear()  # the stages of this pause (the last one ends the turn)
        self._utt.timeline.mark("paused", at=now)
        # The STT gets the speech up to its loudness end and a fixed margin, no more.
        end = framing.end_sample(bytes(self._unfed))
        if end is not None:
            margin = int(STT_POST_SECS * SAMPLE_RATE)
            self._feed_stt(min(len(self._unfed), (end + margin) * 2))
        self._stt_cut = True
        self._speculation = asyncio.create_task(
            self._speculate(self._utt, self._worker, self.endpointer.pause_id)
        )

    def _resume(self) -> None:
        self._stt_cut = False
        self._feed_stt(len(self._unfed) - STT_DELAY_FRAMES * self._frame_bytes)
        for task in (self._speculation, self._turn_task):
            if task:
                task.cancel()
        self._speculation = self._turn_task = None
        self._cb.on_speech_resumed()

    def _assess(self) -> None:
        """Ask the turn model about the audio so far; its verdict goes to the endpointer."""
        if self._turn_task is not None and not self._turn_task.done():
            return
        pause = self.endpointer.pause_id
        audio = bytes(self._turn_audio)
        if self._utt is not None:
            self._utt.timeline.mark("verdict_asked")
        self._turn_task = asyncio.create_task(self._judge(pause, audio), name="turn-model")

    @property
    def paused(self) -> bool:
        """In a pause inside an utterance (the turn may be over)."""
        return self.endpointer.state is State.PAUSED

    @property
    def pause_id(self) -> int:
        """The number of the pause in progress (or the last one)."""
        return self.endpointer.pause_id

    def text_eou(self, pause: int, probability: float | None) -> None:
        """The language model's end-of-turn probability for the transcript at `pause`."""
        if self._utt is not None and pause == self.endpointer.pause_id:
            self._utt.timeline.mark("eou", probability)
        self._handle(self.endpointer.step(TextEou(pause, probability)), time.monotonic())

    async def _judge(self, pause: int, audio: bytes) -> None:
        try:
            prob = await self._turn_model.judge(audio)
        except Exception as exc:  # a model failure must not kill the listener
            log.warning("turn model failed: %s", exc)
            prob = None
        if self._utt is not None and pause == self.endpointer.pause_id:
            self._utt.timeline.mark("verdict", prob)
        signals = self.endpointer.step(TurnVerdict(pause, prob))
        self._handle(signals, time.monotonic())

    def _end(self, now: float) -> None:
        if self._utt is None or self._worker is None:
            return
        self._utt.ended_at = now
        self._utt.timeline.mark("ended", self.endpointer.ended_by, at=now)
        if self.endpointer.speech_secs < self.endpointer.params.min_speech_secs:
            utt = self._utt
            self._abort()
            self._cb.on_utterance(utt)  # a blip: an utterance with no text
            return
        self._end_task = asyncio.create_task(self._finish(self._utt, self._worker))
        self._speculation = None
        self._worker = None
        self._utt = None
        self._clear_audio()

    def _clear_audio(self) -> None:
        self._unfed.clear()
        self._turn_audio.clear()
        self._stt_cut = False
        if self._turn_task is not None:
            self._turn_task.cancel()  # a verdict for a turn that is over
            self._turn_task = None

    def _start_utterance(self, now: float, frame: bytes) -> None:
        self._abort(reset_endpointer=False)
        self._utt = Utterance(started_at=now)
        self._worker = SttWorker(
            self._stt().open_stream(),
            self._stt().streaming,
            self.interim_secs,
            self._cb.on_interim,
        )
        before = b"".join(self._preroll) + frame
        self._preroll.clear()
        # Where the VAD thinks speech began; the loudness onset is more exact, but not
        # trusted further back than ONSET_REACH_SECS (echo residue, earlier noise).
        vad_onset = len(before) // 2 - len(frame) // 2
        vad_onset -= int(self.endpointer.onset_secs * SAMPLE_RATE)
        onset = framing.onset_sample(before)
        if onset is None or onset < vad_onset - int(ONSET_REACH_SECS * SAMPLE_RATE):
            onset = max(0, vad_onset - int(ONSET_REACH_SECS * SAMPLE_RATE) // 2)
        self._unfed += _from(before, onset - int(STT_PRE_SECS * SAMPLE_RATE))
        self._turn_audio += _from(before, onset - int(TURN_PRE_SECS * SAMPLE_RATE))
        self._feed_stt(len(self._unfed) - STT_DELAY_FRAMES * self._frame_bytes)
        self._cb.on_speech_started()

    async def _speculate(self, utt: Utterance, worker: SttWorker, pause: int) -> None:
        try:
            text = await worker.hypothesis()
        except Exception as exc:  # an engine failure must not kill the listener
            log.warning("speculative transcription failed: %s", exc)
            return
        if self._utt is utt and self.endpointer.state is State.PAUSED:
            utt.speculated_at = time.monotonic()
            utt.timeline.mark("transcript", at=utt.speculated_at)
            self._cb.on_speech_paused(text, utt)
            # The transcript's ending is a cue for the turn policy (it may end the turn).
            if self._utt is utt:
                cue = classify(text)
                utt.timeline.mark("text_cue", cue.value)
                self._handle(self.endpointer.step(TextCue(pause, cue)), time.monotonic())

    async def _finish(self, utt: Utterance, worker: SttWorker) -> None:
        try:
            utt.text = await worker.finish()
            utt.final_at = time.monotonic()
            utt.timeline.mark("final", at=utt.final_at)
        except Exception as exc:
            log.exception("transcription failed")
            self._cb.on_stt_error(f"speech-to-text failed: {exc}")
            utt.text = ""
        finally:
            await worker.close()
        self._cb.on_utterance(utt)

    def _abort(self, reset_endpointer: bool = True) -> None:
        """Drop the utterance in progress (bot turn took the floor, or a blip)."""
        if self._speculation:
            self._speculation.cancel()
            self._speculation = None
        if self._worker:
            task = asyncio.create_task(self._worker.close())
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)
            self._worker = None
        self._utt = None
        self._clear_audio()
        if reset_endpointer and self.endpointer.state is not State.QUIET:
            self.endpointer.reset()

    async def close(self) -> None:
        self._abort()
        for task in (self._end_task,):
            if task and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task


def _from(pcm: bytes, sample: int) -> bytes:
    """`pcm` from `sample` on; a negative start is made up with silence in front."""
    if sample < 0:
        return bytes(-sample * 2) + pcm
    return pcm[sample * 2 :]

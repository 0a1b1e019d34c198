"""One answer of the bot: LLM (streamed) → chunker → TTS (streamed) → paced audio.

Three owned tasks joined by bounded queues. A turn may start *gated*
(speculatively, before the user's endpoint is confirmed): it thinks and
synthesises, but its events are held back and no audio goes out until
`commit()`; `cancel()` then throws it away without a trace. Once audio plays,
the turn keeps count of what was actually heard, so an interruption can cut
the assistant message down to the words the user really got.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from rtvi_edge import events as ev
from rtvi_edge.audio.pcm import apply_gain, resample
from rtvi_edge.audio.sink import AudioSink
from rtvi_edge.engines.backends import current_session
from rtvi_edge.engines.base import (
    ConstrainedModel,
    GenerationParams,
    GenerationStats,
    LanguageModel,
    TextToSpeech,
)
from rtvi_edge.engines.threads import iterate_in_thread
from rtvi_edge.pipeline import echo
from rtvi_edge.pipeline.chunker import TextChunker, speakable
from rtvi_edge.pipeline.loop_guard import LoopGuard
from rtvi_edge.pipeline.turn_timeline import TurnTimeline
from rtvi_edge.tools import answers, router
from rtvi_edge.tools.policy import ToolPolicy, fixed_reply
from rtvi_edge.tools.registry import Tool
from rtvi_edge.tools.runner import ToolRunner

log = logging.getLogger(__name__)

_END = object()
DEFAULT_POLICY = ToolPolicy()
NOT_JSON = "Sorry, I could not put that into words."


@dataclass
class Segment:
    text: str
    pcm: bytes = b""  # at the sink's rate
    heard: float = 0.0  # fraction of this segment's audio the user heard


@dataclass
class TurnOutcome:
    generated: str = ""
    spoken: str = ""  # what the user heard (all of it unless interrupted)
    interrupted: bool = False
    first_audio_at: float | None = None
    llm_ttfb: float | None = None
    tts_ttfb: float | None = None
    stats: GenerationStats = field(default_factory=GenerationStats)
    tool_messages: list[dict[str, Any]] = field(default_factory=list)  # calls and results
    timeline: TurnTimeline = field(default_factory=TurnTimeline)  # turn_timeline.py


@dataclass
class TurnSpec:
    """What a turn needs to run."""

    session_id: str
    messages: list[dict[str, Any]] | None  # None: speak `text` without the LLM
    text: str = ""
    params: GenerationParams = field(default_factory=GenerationParams)
    speak: bool = True
    speed: float = 1.0
    volume: float = 1.0
    first_chunk_words: int = 3
    first_max_words: int = 0
    chunk_ms: int = 40


class BotTurn:
    def __init__(
        self,
        spec: TurnSpec,
        llm: LanguageModel,
        tts: TextToSpeech,
        sink: AudioSink | None,
        publish: Callable[[ev.Event], None],
        gated: bool = False,
        tools: ToolRunner | None = None,
        policy: ToolPolicy = DEFAULT_POLICY,
    ) -> None:
        self.spec = spec
        self._tools = tools
        self._policy = policy
        self._llm = llm
        self._tts = tts
        self._sink = sink if spec.speak else None
        self._publish_now = publish
        self._held: list[ev.Event] | None = [] if gated else None
        self._gate = asyncio.Event()
        if not gated:
            self._gate.set()
        self._cancel = threading.Event()
        # Cleared while the first clause is synthesised: on a small CPU the LLM, far
        # faster than speech, would otherwise slow down the first audio.
        self._llm_go = threading.Event()
        self._llm_go.set()
        self.outcome = TurnOutcome()
        self._segments: list[Segment] = []
        self._started = time.monotonic()
        self._speaking = False
        self._task: asyncio.Task[TurnOutcome] | None = None
        self._playing = asyncio.Event()  # cleared: the voice holds (the user may be backchanneling)
        self._playing.set()

    # -- lifecycle ---------------------------------------------------------
    def start(self) -> asyncio.Task[TurnOutcome]:
        self._task = asyncio.create_task(self._run(), name=f"bot-turn-{self.spec.session_id}")
        return self._task

    @property
    def task(self) -> asyncio.Task[TurnOutcome] | None:
        return self._task

    @property
    def speaking(self) -> bool:
        return self._speaking

    @property
    def committed(self) -> bool:
        return self._gate.is_set()

    def commit(self) -> None:
        """The endpoint is confirmed: release held events and let audio out."""
        if self._held is not None:
            held, self._held = self._held, None
            for e in held:
                self._publish_now(e)
        self._started = time.monotonic()
        self.outcome.timeline.mark("committed", at=self._started)
        self._gate.set()

    def hold(self) -> None:
        """Stop sending audio for now (what the sink holds still plays out)."""
        self._playing.clear()

    def resume(self) -> None:
        """Go on from where `hold` stopped."""
        self._playing.set()

    @property
    def held(self) -> bool:
        return not self._playing.is_set()

    async def cancel(self) -> TurnOutcome:
        """Stop everything now; returns what was heard."""
        self._cancel.set()
        self._llm_go.set()
        heard = self._heard_text()  # before the tasks unwind and the sink is cleared
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                try:
                    await self._task
                except Exception as exc:  # the turn had failed: stopping it still succeeds
                    log.warning("%s: the turn failed: %s", self.spec.session_id, exc)
        if self._sink is not None and self._speaking:
            await self._sink.discard()
        self.outcome.interrupted = True
        self.outcome.spoken = heard
        return self.outcome

    def _publish(self, event: ev.Event) -> None:
        if self._held is not None:
            self._held.append(event)
        else:
            self._publish_now(event)

    # -- the turn ------------------------------------------------------------
    async def _run(self) -> TurnOutcome:
        sid = self.spec.session_id
        current_session.set(sid)  # a LAN server's failure is reported to this session
        text_q: asyncio.Queue[object] = asyncio.Queue(maxsize=16)
        audio_q: asyncio.Queue[object] = asyncio.Queue(maxsize=4)
        tasks = [asyncio.create_task(self._think(text_q), name="bot-think")]
        if self._sink is not None:
            tasks.append(asyncio.create_task(self._synthesize(text_q, audio_q), name="bot-tts"))
            tasks.append(asyncio.create_task(self._play(audio_q), name="bot-play"))
        else:
            tasks.append(asyncio.create_task(self._drain(text_q), name="bot-drain"))
        try:
            await asyncio.gather(*tasks)
        except BaseException:
            # Release the engine threads first: a producer paused on `_llm_go` holds the
            # LLM lock, and every other session would wait on it forever.
            self._cancel.set()
            self._llm_go.set()
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if self._speaking:
                self._speaking = False
                self._publish(ev.BotStoppedSpeaking(session_id=sid))
            raise
        self.outcome.spoken = self._heard_text() if self._sink else self.outcome.generated
        return self.outcome

    async def _think(self, text_q: asyncio.Queue[object]) -> None:
        sid = self.spec.session_id
        chunker = TextChunker(self.spec.first_chunk_words, self.spec.first_max_words)
        if self.spec.messages is None:  # tts:say — no LLM
            self.outcome.generated = self.spec.text
            for piece in chunker.push(self.spec.text + " ") + chunker.flush():
                await text_q.put(piece)
            await text_q.put(_END)
            return
        self._publish(ev.BotLlmStarted(session_id=sid))
        messages = await self._use_tools(self.spec.messages)
        self.outcome.timeline.mark("tools_decided")
        if isinstance(messages, str):  # fixed words: honest "can't tell", or a tool's reply
            if messages:
                self._publish(ev.BotLlmText(session_id=sid, text=messages))
            for chunk in chunker.push(messages + " ") + chunker.flush():
                await text_q.put(chunk)
            self.outcome.generated = messages
            self._publish(ev.BotLlmStopped(session_id=sid))
            await text_q.put(_END)
            return
        t0 = time.monotonic()
        earlier = echo.earlier_answers(messages)
        shapes = not echo.tool_ran(messages)  # no tool: a device reply's shape is a copy
        if not await self._stream(messages, chunker, text_q, t0, earlier, shapes):
            # It began with an earlier answer word for word (pipeline/echo.py): nothing of
            # it went out; ask again without the history it copied from.
            log.info("%s: the answer repeated an earlier one; asked again", sid)
            self.outcome.generated = ""
            self._cancel = threading.Event()  # the first stream's stop is set
            chunker = TextChunker(self.spec.first_chunk_words, self.spec.first_max_words)
            await self._stream(echo.without_history(messages), chunker, text_q, t0, ())
        self.outcome.generated = self.outcome.generated.strip()
        self._publish(ev.BotLlmStopped(session_id=sid))
        await text_q.put(_END)

    async def _stream(
        self,
        final: list[dict[str, Any]],
        chunker: TextChunker,
        text_q: asyncio.Queue[object],
        t0: float,
        earlier: tuple[str, ...],
        shapes: bool = False,
    ) -> bool:
        """Streams one answer into `text_q`; False (and nothing out) when its first words
        are one of the `earlier` answers, or with `shapes` have a device reply's shape
        (held until that is known: pipeline/echo.py)."""
        sid = self.spec.session_id
        stats = self.outcome.stats
        pieces = iterate_in_thread(
            lambda: self._llm.stream_chat(final, self.spec.params, self._cancel, stats),
            self._cancel,
            self._llm_go,
        )
        guard = LoopGuard()
        held: list[str] | None = [] if earlier or shapes else None  # until not an echo
        held_chunks: list[str] = []
        try:
            async for piece in pieces:
                if self.outcome.llm_ttfb is None:
                    self.outcome.llm_ttfb = time.monotonic() - t0
                    self.outcome.timeline.mark("llm_first_token")
                cut = guard.push(piece)
                if cut is not None:
                    said = (self.outcome.generated + piece)[:cut]
                    if held is not None:
                        if echo.judge(said, earlier, True, shapes) == echo.ECHO:
                            return False
                        await self._release(held, held_chunks, text_q)
                        held = None
                    await self._end_loop(cut, piece, chunker, text_q)
                    break
                self.outcome.generated += piece
                if held is None:
                    self._publish(ev.BotLlmText(session_id=sid, text=piece))
                else:
                    held.append(piece)
                if router.looks_like_json(self.outcome.generated):
                    continue  # never read out a tool call's JSON
                chunks = chunker.push(piece)
                if held is not None:
                    held_chunks += chunks
                    verdict = echo.judge(
                        echo.settled(self.outcome.generated), earlier, False, shapes
                    )
                    if verdict == echo.ECHO:
                        return False
                    if verdict == echo.WAIT:
                        continue
                    await self._release(held, held_chunks, text_q)
                    held = None
                    continue
                await self._put(chunks, text_q)
        finally:  # the thread lets go of the LLM now, not when the generator is collected
            await pieces.aclose()  # type: ignore[attr-defined]
        if held is not None:
            if echo.judge(self.outcome.generated, earlier, True, shapes) == echo.ECHO:
                return False
            await self._release(held, held_chunks, text_q)
        tail = chunker.flush()
        if router.looks_like_json(self.outcome.generated):
            self.outcome.generated = NOT_JSON
            tail = chunker.push(NOT_JSON + " ") + chunker.flush()
        for chunk in tail:
            await text_q.put(chunk)
        return True

    async def _put(self, chunks: list[str], text_q: asyncio.Queue[object]) -> None:
        for chunk in chunks:
            if self.outcome.tts_ttfb is None and self._sink is not None:
                self._llm_go.clear()  # until the first clause has its audio
            await text_q.put(chunk)

    async def _release(
        self, held: list[str], chunks: list[str], text_q: asyncio.Queue[object]
    ) -> None:
        """An answer held while it might have been an echo goes out after all."""
        for piece in held:
            self._publish(ev.BotLlmText(session_id=self.spec.session_id, text=piece))
        await self._put(chunks, text_q)

    async def _end_loop(
        self, cut: int, piece: str, chunker: TextChunker, text_q: asyncio.Queue[object]
    ) -> None:
        """The answer repeats itself (pipeline/loop_guard.py): it ends at `cut`, or where
        the text already out to speech ends, so what is kept is what is said."""
        before = len(self.outcome.generated)
        if cut > before:
            kept = piece[: cut - before]
            self.outcome.generated += kept
            if not router.looks_like_json(self.outcome.generated):
                for chunk in chunker.push(kept):
                    await text_q.put(chunk)
        else:
            self.outcome.generated = self.outcome.generated[: chunker.drop_after(cut)]
        log.info(
            "%s: the answer repeated itself; stopped after %d characters",
            self.spec.session_id,
            len(self.outcome.generated),
        )

    async def _use_tools(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]] | str:
        """At most one tool call before the answer (tools/policy.py decides which);
        a string instead of messages is what to say instead of the LLM's answer."""
        user_text = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
        tools = self._tools.tools() if self._tools is not None else []
        llm = self._llm if isinstance(self._llm, ConstrainedModel) else None
        decision = await asyncio.to_thread(self._policy.decide, str(user_text), tools, llm)
        log.info("tool policy: %s (%s)", decision.tool and decision.tool.name, decision.why)
        tool = decision.tool
        if tool is None or self._tools is None:
            return decision.honest_reply() or messages
        args = decision.args
        # Side effects wait until the user's turn is confirmed.
        await self._gate.wait()
        call_id = f"call_{uuid.uuid4().hex[:12]}"
        sid = self.spec.session_id
        self._publish(
            ev.FunctionCallStarted(
                session_id=sid,
                function_name=tool.name,
                tool_call_id=call_id,
                arguments=args,
                client_side=tool.handler is None,
            )
        )
        result = await self._tools.call(tool, args, call_id)
        self._publish(
            ev.FunctionCallStopped(
                session_id=sid,
                function_name=tool.name,
                tool_call_id=call_id,
                result=result,
                cancelled=False,
            )
        )
        pair = [
            router.call_message(tool, args, call_id),
            router.result_message(tool, result, call_id),
        ]
        self.outcome.tool_messages += pair
        failed = answers.failure(result)
        if failed is not None:  # failed or timed out: never let the model guess instead
            return failed
        if tool.handler is not None:  # the device's own tools answer in their own words
            fixed = fixed_reply(tool, result)
            return fixed if fixed is not None else [*messages, *pair]
        # A client function: this turn's result is the answer, never an earlier one.
        facts = answers.informative(result)
        if answers.is_action(tool) or (not facts and not answers.is_query(tool)):
            return answers.confirmation(tool, args, result)  # it did what it was asked
        if not facts:
            return answers.summary(tool, result)  # a query with nothing to say
        return await self._grounded_answer(messages, str(user_text), tool, args, result)

    async def _grounded_answer(
        self,
        messages: list[dict[str, Any]],
        user_text: str,
        tool: Tool,
        args: dict[str, Any],
        result: dict[str, Any],
    ) -> str:
        """The model words a query's result, from that result alone; unless its words
        carry the result (tools/answers.py), a fixed sentence of the result is said."""
        system = next((str(m["content"]) for m in messages if m["role"] == "system"), "")
        prompt = answers.answer_messages(system, user_text, tool, args, result)
        params = dataclasses.replace(
            self.spec.params, max_tokens=min(60, self.spec.params.max_tokens), tools=()
        )
        stats = self.outcome.stats
        pieces = iterate_in_thread(
            lambda: self._llm.stream_chat(prompt, params, self._cancel, stats), self._cancel
        )
        text = ""
        guard = LoopGuard()
        try:
            async for piece in pieces:
                cut = guard.push(piece)
                text += piece
                if cut is not None:
                    text = text[:cut]
                    break
        finally:
            await pieces.aclose()  # type: ignore[attr-defined]
        text = " ".join(text.split())
        if answers.grounded(text, result, user_text):
            return text
        log.info("%s: the model's answer %r does not carry the result", tool.name, text)
        return answers.summary(tool, result)

    async def _drain(self, text_q: asyncio.Queue[object]) -> None:
        """Text-only turn: the text is the output, no audio."""
        await self._gate.wait()
        while (item := await text_q.get()) is not _END:
            self._publish(
                ev.BotOutput(
                    session_id=self.spec.session_id,
                    text=str(item),
                    spoken=False,
                    will_be_spoken=False,
                )
            )

    async def _synthesize(
        self, text_q: asyncio.Queue[object], audio_q: asyncio.Queue[object]
    ) -> None:
        sid = self.spec.session_id
        sink = self._sink
        assert sink is not None
        started = False
        while (item := await text_q.get()) is not _END:
            text = str(item)
            if not started:
                started = True
                self._publish(ev.BotTtsStarted(session_id=sid))
            # The sentence is known now; clients show it ahead of its audio (pipecat does).
            self._publish(ev.BotOutput(session_id=sid, text=text, spoken=False))
            t0 = time.monotonic()
            self.outcome.timeline.mark("tts_started", at=t0)
            tts = self._tts
            pcm_parts = [p async for p in iterate_in_thread(self._synthesis(tts, text))]
            if self.outcome.tts_ttfb is None:
                self.outcome.tts_ttfb = time.monotonic() - t0
            self._llm_go.set()
            pcm = resample(b"".join(pcm_parts), tts.sample_rate, sink.sample_rate)
            pcm = apply_gain(pcm, self.spec.volume)
            self.outcome.timeline.mark("audio_ready")
            await audio_q.put(Segment(text=text, pcm=pcm))
        if started:
            self._publish(ev.BotTtsStopped(session_id=sid))
        await audio_q.put(_END)

    def _synthesis(self, tts: TextToSpeech, text: str) -> Callable[[], Iterator[bytes]]:
        speed = self.spec.speed
        return lambda: tts.synthesize(text, speed)

    async def _play(self, audio_q: asyncio.Queue[object]) -> None:
        sid = self.spec.session_id
        sink = self._sink
        assert sink is not None
        piece_bytes = max(2, int(sink.sample_rate * self.spec.chunk_ms / 1000) * 2)
        await self._gate.wait()
        while (item := await audio_q.get()) is not _END:
            seg = item
            assert isinstance(seg, Segment)
            self._segments.append(seg)
            if not self._speaking:
                self._speaking = True
                self.outcome.first_audio_at = time.monotonic()
                self.outcome.timeline.mark("first_audio", at=self.outcome.first_audio_at)
                self._publish(ev.BotStartedSpeaking(session_id=sid))
            self._publish(ev.BotTtsText(session_id=sid, text=seg.text))
            total = len(seg.pcm)
            word_ends = [w.end() for w in re.finditer(r"\S+", seg.text)]
            said = 0
            for off in range(0, total, piece_bytes):
                await self._playing.wait()
                await sink.play(seg.pcm[off : off + piece_bytes])
                seg.heard = min(1.0, (off + piece_bytes) / max(1, total))
                if said < (n := int(len(word_ends) * seg.heard)) < len(word_ends):
                    said = n  # one more word out: clients show how far speech has got
                    cut = word_ends[n - 1]
                    self._publish(
                        ev.BotSpeechProgress(
                            session_id=sid,
                            text=seg.text,
                            accumulated_text=seg.text[:cut],
                            remaining_text=seg.text[cut:].lstrip(),
                        )
                    )
            # Wait until it has been heard before calling it spoken.
            await asyncio.sleep(sink.buffered())
            seg.heard = 1.0
            self._publish(ev.BotOutput(session_id=sid, text=seg.text, spoken=True))
        if self._speaking:
            self._speaking = False
            self._publish(ev.BotStoppedSpeaking(session_id=sid))

    def heard_text(self) -> str:
        """What the user has heard so far (all of it if nothing plays)."""
        return self._heard_text()

    def _heard_text(self) -> str:
        """Whole segments heard, plus the heard share of the words of the one cut off."""
        if self._sink is None:
            return self.outcome.generated
        words: list[str] = []
        unheard = self._sink.buffered() if self._speaking else 0.0
        for seg in self._segments:
            frac = seg.heard
            if frac < 1.0 and seg.pcm:
                dur = len(seg.pcm) / 2 / self._sink.sample_rate
                frac = max(0.0, frac - unheard / dur)
            seg_words = seg.text.split()
            words.extend(seg_words[: round(len(seg_words) * frac)])
            if frac < 1.0:
                break
        return speakable(" ".join(words))

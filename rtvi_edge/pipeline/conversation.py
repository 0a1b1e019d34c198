"""One conversation (session): the user's listener, the LLM context and the bot's turns.

Several conversations share one `EngineHub` (the local mic, each RTVI client).
Turn-taking is an explicit state machine: idle → listening → thinking →
speaking → idle, with `muted` beside it. User speech during a bot turn
interrupts it and the context keeps only what the user heard.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime
from typing import Any

from rtvi_edge import events as ev
from rtvi_edge.audio.echo import EchoCanceller
from rtvi_edge.audio.wake import WakeWordDetector
from rtvi_edge.engines.hub import EngineHub
from rtvi_edge.pipeline.bot_turn import BotTurn, TurnOutcome, TurnSpec
from rtvi_edge.pipeline.context import LlmContext
from rtvi_edge.pipeline.listener import UserListener, Utterance
from rtvi_edge.pipeline.output import AudioSink
from rtvi_edge.pipeline.settings import SessionSettings
from rtvi_edge.pipeline.wake_gate import WakeGate
from rtvi_edge.tools.intents import IntentMatch, IntentMatcher
from rtvi_edge.tools.registry import tool_from_schema
from rtvi_edge.tools.runner import ToolRunner

log = logging.getLogger(__name__)

ECHO_TAIL_SECS = 0.3  # room reverb of the bot's last word: ignored, or held to the barge-in bar


class Conversation:
    def __init__(
        self,
        session_id: str,
        hub: EngineHub,
        bus: ev.EventBus,
        settings: SessionSettings,
        sink: AudioSink | None,
        chunk_ms: int = 40,
    ) -> None:
        self.session_id = session_id
        self.hub = hub
        self.bus = bus
        self.settings = settings
        self.sink = sink
        self.chunk_ms = chunk_ms
        self.context = LlmContext(
            settings.system_prompt,
            settings.initial_messages,
            settings.history_tokens,
            count_tokens=lambda text: hub.engines.llm.count_tokens(text),
        )
        self.listener = UserListener(
            stt=lambda: self.hub.engines.stt,
            vad=hub.engines.vad.open_stream(),
            params=settings.endpoint,
            interim_secs=settings.interim_secs,
            callbacks=self,
        )
        self.state: ev.BotState = "muted" if settings.muted else "idle"
        self._turn: BotTurn | None = None
        self._turn_utt: Utterance | None = None
        self._spec_text: str | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._undeafen: asyncio.TimerHandle | None = None
        self._closed = False
        self.intents: IntentMatcher | None = None  # local intents, set by the daemon
        self.tool_runner: ToolRunner | None = None  # tools for the LLM, set by the daemon
        self.llm_tools = True
        # Hands-free parts of the local conversation (set by the daemon):
        self.echo: EchoCanceller | None = None
        self.wake_gate: WakeGate | None = None
        self.wake_detector: WakeWordDetector | None = None
        self.earcon: bytes = b""
        self._apply_mute()

    # -- events ------------------------------------------------------------
    def publish(self, event: ev.Event) -> None:
        if isinstance(event, ev.BotStartedSpeaking):
            self._set_state("speaking")
            self._guard_echo(True)
        elif isinstance(event, ev.BotStoppedSpeaking):
            self._guard_echo(False)
        self.bus.publish(event)

    def _set_state(self, state: ev.BotState) -> None:
        if self.settings.muted and state != "muted":
            state = "muted"
        if state == "idle" and self.wake_gate is not None and self.wake_gate.busy:
            self.wake_gate.turn_finished(time.monotonic())  # the follow-up window opens
        if state != self.state:
            self.state = state
            self.bus.publish(ev.StateChanged(session_id=self.session_id, state=state))

    def _spawn(self, coro: Any, name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            log.error(
                "session %s: %s failed: %s", self.session_id, task.get_name(), exc, exc_info=exc
            )
            self.bus.publish(ev.ErrorEvent(session_id=self.session_id, message=str(exc)))

    # -- echo guard and mute -------------------------------------------------
    def _guard_echo(self, bot_speaking: bool) -> None:
        if self._undeafen is not None:
            self._undeafen.cancel()
            self._undeafen = None
        half = self.settings.echo_guard == "half-duplex"
        if bot_speaking:
            self.listener.deaf = half or self.settings.muted
            self.listener.barge_in = None if half else self.settings.barge_in()
            return
        if self.settings.muted:
            self._end_echo_tail()
            return
        # The room still rings with the bot's last word for a moment: deaf (half-duplex)
        # or still under the barge-in bar until it has died away.
        loop = asyncio.get_running_loop()
        self._undeafen = loop.call_later(ECHO_TAIL_SECS, self._end_echo_tail)

    def _end_echo_tail(self) -> None:
        self._undeafen = None
        self.listener.barge_in = None
        self._apply_mute()

    def _apply_mute(self) -> None:
        self.listener.deaf = self.settings.muted
        if self.settings.muted:
            self._set_state("muted")
        elif self.state == "muted":
            self._set_state("idle")

    def set_muted(self, muted: bool) -> None:
        self.settings.muted = muted
        self._apply_mute()

    def apply_settings(self) -> None:
        """Push changed settings into the running parts."""
        s = self.settings
        self.listener.set_params(s.endpoint)
        self.listener.interim_secs = s.interim_secs
        self.context.history_tokens = s.history_tokens
        self.context.system_prompt = s.system_prompt
        if self.tool_runner is not None:
            self.tool_runner.client_tools = [tool_from_schema(t) for t in s.tools]
        self._apply_mute()

    # -- input ----------------------------------------------------------------
    def feed_audio(self, pcm16k: bytes) -> None:
        if self._closed:
            return
        if self.echo is not None:
            pcm16k = self.echo.process(pcm16k)
        gate = self.wake_gate
        if gate is not None and not gate.hears(time.monotonic()):
            if self.wake_detector is not None and self.wake_detector.process(pcm16k):
                self.wake("wake_word")
            return
        self.listener.feed(pcm16k)

    def wake(self, source: str = "push") -> None:
        """Start listening (wake word heard, or push-to-talk)."""
        if self.wake_gate is None:
            return
        self.wake_gate.wake(time.monotonic())
        name = self.wake_detector.name if self.wake_detector and source == "wake_word" else ""
        self.bus.publish(
            ev.WakeDetected(
                session_id=self.session_id,
                source="push" if source == "push" else "wake_word",
                name=name,
            )
        )
        if self.earcon and self.sink is not None:
            self._spawn(self.sink.play(self.earcon), "earcon")

    async def send_text(
        self, text: str, run_immediately: bool = True, audio_response: bool = True
    ) -> BotTurn | None:
        """A typed user turn (RTVI send-text, MQTT ask, the chat command)."""
        text = text.strip()
        if not text:
            return None
        await self.interrupt()
        self._turn_utt = None  # typed turn: no voice timing
        self.context.add_user(text)
        self.bus.publish(
            ev.UserTranscription(
                session_id=self.session_id, text=text, final=True, timestamp=_now_iso()
            )
        )
        if not run_immediately:
            return None
        return self._respond(text, speak=audio_response)

    async def say(self, text: str) -> BotTurn | None:
        """Speak text as the bot, without the LLM (tts:say)."""
        if not text.strip():
            return None
        await self.interrupt()
        self._turn_utt = None  # typed turn: no voice timing
        return self._start_turn(None, text=text.strip(), speak=True)

    async def run_llm(self, speak: bool = True) -> BotTurn:
        """Answer from the current context (llm:run)."""
        await self.interrupt()
        self._turn_utt = None  # typed turn: no voice timing
        return self._start_turn(self.context.for_llm(), speak=speak)

    async def interrupt(self) -> bool:
        """Stop the bot now; the context keeps what the user heard. True if it was busy."""
        turn, self._turn = self._turn, None
        self._spec_text = None
        if turn is None:
            return False
        outcome = await turn.cancel()
        if not turn.committed:
            return False  # speculative: nobody saw it
        for message in outcome.tool_messages:
            self.context.append(message)  # tools that ran did run
        if outcome.spoken:
            self.context.add_assistant(outcome.spoken)
        self.bus.publish(ev.BotInterrupted(session_id=self.session_id, spoken_text=outcome.spoken))
        self._set_state("listening" if self.listener.in_speech else "idle")
        return True

    # -- listener callbacks -------------------------------------------------------
    def on_speech_started(self) -> None:
        if self.wake_gate is not None:
            self.wake_gate.turn_started()
        self.bus.publish(ev.UserStartedSpeaking(session_id=self.session_id))
        self._set_state("listening")
        if self._turn is not None:
            self._spawn(self.interrupt(), "interrupt")

    def on_interim(self, text: str) -> None:
        self.bus.publish(
            ev.UserTranscription(
                session_id=self.session_id, text=text, final=False, timestamp=_now_iso()
            )
        )

    def on_speech_paused(self, text: str, utt: Utterance) -> None:
        # Speculation: think and synthesise now, speak only if the endpoint confirms.
        if not text or self._turn is not None:
            return
        if self.intents is not None and self.intents.match(text) is not None:
            return  # commands have side effects: wait for the confirmed endpoint
        self._spec_text = text
        self._turn_utt = utt
        self._start_turn(self.context.for_llm(pending_user=text), speak=True, gated=True)

    def on_speech_resumed(self) -> None:
        if self._turn is not None and not self._turn.committed:
            self._spawn(self.interrupt(), "drop-speculation")

    def on_utterance(self, utt: Utterance) -> None:
        self.bus.publish(ev.UserStoppedSpeaking(session_id=self.session_id))
        turn = self._turn
        if not utt.text:
            if turn is not None and not turn.committed:
                self._spawn(self.interrupt(), "drop-speculation")
            self._set_state("idle")
            return
        self.bus.publish(
            ev.UserTranscription(
                session_id=self.session_id, text=utt.text, final=True, timestamp=_now_iso()
            )
        )
        self.context.add_user(utt.text)
        self._turn_utt = utt
        if turn is not None and not turn.committed and self._spec_text == utt.text:
            utt.final_at = utt.spec_at  # the speculative transcript was the final one
            turn.commit()
            self._set_state("thinking")
            return
        self._spawn(self._restart_turn(), "turn-after-utterance")

    def on_stt_error(self, message: str) -> None:
        self.bus.publish(ev.ErrorEvent(session_id=self.session_id, message=message))

    async def _restart_turn(self) -> None:
        await self.interrupt()
        last = self.context.turns[-1]["content"] if self.context.turns else ""
        self._respond(last, speak=True)

    def _respond(self, text: str, speak: bool) -> BotTurn | None:
        """Answer a committed user message: a local intent if one matches, else the LLM."""
        match = self.intents.match(text) if self.intents is not None else None
        if match is None:
            return self._start_turn(self.context.for_llm(), speak=speak)
        self._spawn(self._run_intent(match, speak), f"intent-{match.intent.name}")
        return None

    async def _run_intent(self, match: IntentMatch, speak: bool) -> None:
        assert self.tool_runner is not None
        result = await self.tool_runner.local.call(match.intent.tool, match.args)
        log.info(
            "session %s: intent %s %s -> %s", self.session_id, match.intent.name, match.args, result
        )
        reply = match.response(result)
        if reply:
            self._start_turn(None, text=reply, speak=speak)
        else:
            self.context.add_assistant("")  # e.g. "stop": the user's turn got no words
            self._set_state("idle")

    def resolve_function_call(self, call_id: str, result: object) -> bool:
        return self.tool_runner is not None and self.tool_runner.resolve(call_id, result)

    # -- turns -------------------------------------------------------------
    def _start_turn(
        self,
        messages: list[dict[str, Any]] | None,
        text: str = "",
        speak: bool = True,
        gated: bool = False,
    ) -> BotTurn:
        s = self.settings
        engines = self.hub.engines
        spec = TurnSpec(
            session_id=self.session_id,
            messages=messages,
            text=text,
            params=s.generation(),
            speak=speak and self.sink is not None,
            speed=s.tts_speed,
            volume=s.volume,
            first_chunk_words=s.first_chunk_words,
            chunk_ms=self.chunk_ms,
        )
        tools = self.tool_runner if (messages is not None and self.llm_tools) else None
        turn = BotTurn(
            spec, engines.llm, engines.tts, self.sink, self.publish, gated=gated, tools=tools
        )
        self._turn = turn
        if not gated:
            self._set_state("thinking")
        turn.start()
        self._spawn(self._supervise(turn), "turn-supervisor")
        return turn

    async def _supervise(self, turn: BotTurn) -> None:
        task = turn.task
        assert task is not None
        try:
            outcome = await task
        except asyncio.CancelledError:
            return  # interrupted: interrupt() took care of the context
        except Exception as exc:
            log.exception("session %s: bot turn failed", self.session_id)
            if self._turn is turn:
                self._turn = None
            self.bus.publish(
                ev.ErrorEvent(session_id=self.session_id, message=f"bot turn failed: {exc}")
            )
            self._set_state("idle")
            return
        if self._turn is not turn:
            return
        self._turn = None
        for message in outcome.tool_messages:
            self.context.append(message)
        said = outcome.spoken or outcome.generated
        if said:
            self.context.add_assistant(said)
        self._publish_metrics(outcome)
        self._set_state("listening" if self.listener.in_speech else "idle")

    def _publish_metrics(self, outcome: TurnOutcome) -> None:
        utt, self._turn_utt = self._turn_utt, None
        e = self.hub.engines
        v2v = stt = endpointing = None
        if utt is not None and utt.speech_end_at:
            endpointing = utt.ended_at - utt.speech_end_at if utt.ended_at else None
            stt = utt.final_at - utt.speech_end_at if utt.final_at else None
            if outcome.first_audio_at is not None:
                v2v = outcome.first_audio_at - utt.speech_end_at
        self.bus.publish(
            ev.TurnMetrics(
                session_id=self.session_id,
                endpointing=endpointing,
                stt=stt,
                llm_ttfb=outcome.llm_ttfb,
                tts_ttfb=outcome.tts_ttfb,
                voice_to_voice=v2v,
                llm_model=e.llm.model_name,
                stt_model=e.stt.model_name,
                tts_model=e.tts.model_name,
                prompt_tokens=outcome.stats.prompt_tokens,
                completion_tokens=outcome.stats.completion_tokens,
                characters=len(outcome.spoken),
            )
        )

    def _responding(self) -> bool:
        """A turn runs, or a committed user message is still on its way to one."""
        preparing = ("intent-", "turn-after-utterance")
        return self._turn is not None or any(
            t.get_name().startswith(preparing) and not t.done() for t in self._tasks
        )

    async def wait_idle(self, timeout: float = 60.0) -> None:
        """Until the bot has answered (tests, MQTT `ask`, the chat command)."""
        deadline = time.monotonic() + timeout
        while self._responding() and time.monotonic() < deadline:
            task = self._turn.task if self._turn is not None else None
            if task is None:
                await asyncio.sleep(0.01)
                continue
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(asyncio.shield(task), deadline - time.monotonic())
            await asyncio.sleep(0)

    @property
    def closed(self) -> bool:
        return self._closed

    async def close(self) -> None:
        """Ends all it runs; a turn or the listener failing on the way does not stop the rest."""
        self._closed = True
        try:
            await self.interrupt()
        except Exception:
            log.exception("%s: stopping the turn failed while closing", self.session_id)
        try:
            await self.listener.close()
        except Exception:
            log.exception("%s: closing the listener failed", self.session_id)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._undeafen is not None:
            self._undeafen.cancel()


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()

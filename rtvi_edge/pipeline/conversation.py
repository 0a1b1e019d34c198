"""One conversation (session): the user's listener, the LLM context and the bot's turns.

Several conversations share one `EngineHub` (the local mic, each RTVI client).
A conversation is built complete by the composition root (`rtvi_edge/assembly.py`):
its tools, intents and hands-free parts come through the constructor, and its
settings and context change only through the methods below, which keep the
rules in one place. Turn-taking is the state machine of `turn_state.py`. User
speech during a bot turn interrupts it and the context keeps only what the
user heard.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal

from rtvi_edge import events as ev
from rtvi_edge.audio.sink import AudioSink
from rtvi_edge.engines.hub import EngineHub
from rtvi_edge.pipeline.backchannel import is_backchannel
from rtvi_edge.pipeline.bot_turn import BotTurn, TurnOutcome, TurnSpec
from rtvi_edge.pipeline.context import LlmContext
from rtvi_edge.pipeline.continuation import Answered, Continuation
from rtvi_edge.pipeline.eou_text import TextEndOfTurn
from rtvi_edge.pipeline.handoff import TurnHandoff
from rtvi_edge.pipeline.hands_free import HandsFree, WakeDetector
from rtvi_edge.pipeline.listener import UserListener, Utterance
from rtvi_edge.pipeline.settings import SessionSettings, clamp_volume
from rtvi_edge.pipeline.turn_state import TurnEvent, TurnState, next_state
from rtvi_edge.tools.intents import IntentMatch
from rtvi_edge.tools.registry import tool_from_schema
from rtvi_edge.tools.setup import SessionHandle, SessionTools

log = logging.getLogger(__name__)

# Where another pipeline's turn is, as this conversation's state machine hears it.
_REMOTE: dict[ev.BotState, TurnEvent] = {
    "listening": TurnEvent.USER_STARTED,
    "thinking": TurnEvent.TURN_STARTED,
    "speaking": TurnEvent.BOT_SPEAKING,
    "idle": TurnEvent.TURN_ENDED,
    "muted": TurnEvent.MUTED,
}

BACKCHANNEL_MAX_SECS = 0.7  # talking over the bot longer than this without a pause interrupts
ECHO_TAIL_SECS = 0.3  # room reverb of the bot's last word: ignored, or held to the barge-in bar

ToolsFactory = Callable[[SessionHandle], SessionTools]
Clock = Callable[[], float]


class Conversation:
    def __init__(
        self,
        session_id: str,
        hub: EngineHub,
        bus: ev.EventBus,
        settings: SessionSettings,
        sink: AudioSink | None,
        chunk_ms: int = 40,
        *,
        tools: ToolsFactory | None = None,
        hands_free: HandsFree | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._session_id = session_id
        self.hub = hub
        self.bus = bus
        self._settings = settings
        self._sink = sink
        self.chunk_ms = chunk_ms
        self.hands_free = hands_free or HandsFree()
        self._clock: Clock = clock or time.monotonic
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
            turn_model=hub.turn_model,
        )
        self._state = TurnState.MUTED if settings.muted else TurnState.IDLE
        self._current: BotTurn | None = None
        self._turn_utt: Utterance | None = None
        self._speculative_text: str | None = None
        self._queued_user: list[str] = []  # send-text without run_immediately, mid-turn
        self._tasks: set[asyncio.Task[Any]] = set()
        self._undeafen: asyncio.TimerHandle | None = None
        self._closed = False
        # Idleness as an event: no turn runs and no committed message awaits its answer.
        self._preparing = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._handoff: TurnHandoff | None = None  # another pipeline (Home Assistant)
        self.tools = tools(self) if tools is not None else None
        self._eou = TextEndOfTurn(lambda: self.hub.engines.llm)
        self._continuation = Continuation()  # a premature answer the user talks through
        # the voice holds while the user speaks over it: a backchannel, or not?
        self._held: tuple[BotTurn, Answered | None] | None = None
        self._apply_settings()

    # -- what others read ----------------------------------------------------------
    @property
    def session_id(self) -> str:
        return self._session_id

    @property
    def settings(self) -> SessionSettings:
        """Read-only by convention: change it with `update_settings()` and the setters."""
        return self._settings

    @property
    def sink(self) -> AudioSink | None:
        return self._sink

    @property
    def state(self) -> TurnState:
        return self._state

    @property
    def volume(self) -> float:
        return self._settings.volume

    @property
    def listens_always(self) -> bool:
        """No wake word or push-to-talk stands between the microphone and the listener."""
        return self.hands_free.wake_gate is None

    @property
    def _turn(self) -> BotTurn | None:
        return self._current

    @_turn.setter
    def _turn(self, turn: BotTurn | None) -> None:
        self._current = turn
        self._update_idle()

    def _update_idle(self) -> None:
        if self._current is None and self._preparing == 0:
            self._idle.set()
        else:
            self._idle.clear()

    # -- events ------------------------------------------------------------
    def publish(self, event: ev.Event) -> None:
        if isinstance(event, ev.BotStartedSpeaking):
            self._transition(TurnEvent.BOT_SPEAKING)
            self._guard_echo(True)
        elif isinstance(event, ev.BotStoppedSpeaking):
            self._guard_echo(False)
        self.bus.publish(event)

    def _transition(self, event: TurnEvent) -> None:
        state = next_state(self._state, event, self._settings.muted)
        gate = self.hands_free.wake_gate
        if state is TurnState.IDLE and gate is not None and gate.busy:
            gate.turn_finished(self._clock())  # the follow-up window opens
        if state is not self._state:
            self._state = state
            self.bus.publish(ev.StateChanged(session_id=self.session_id, state=state.wire))

    def _turn_ended(self) -> None:
        speaking = self.listener.in_speech
        self._transition(TurnEvent.TURN_ENDED_USER_SPEAKING if speaking else TurnEvent.TURN_ENDED)

    def _spawn(self, coro: Any, name: str, prepares_answer: bool = False) -> asyncio.Task[Any]:
        """An owned task; `prepares_answer`: a committed user message is on its way to a turn."""
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        if prepares_answer:
            self._preparing += 1
            self._update_idle()
            task.add_done_callback(self._prepared)
        task.add_done_callback(self._task_done)
        return task

    def _prepared(self, task: asyncio.Task[Any]) -> None:
        self._preparing -= 1
        self._update_idle()

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
            self._set_deaf(half or self.settings.muted)
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

    def _set_deaf(self, deaf: bool) -> None:
        """The listener ignores the user (muted, or half-duplex while the bot speaks);
        RTVI clients hear of it as user-mute-started / -stopped."""
        if deaf != self.listener.deaf:
            reason: Literal["muted", "half-duplex"] = (
                "muted" if self.settings.muted else "half-duplex"
            )
            self.bus.publish(ev.UserMuted(session_id=self.session_id, muted=deaf, reason=reason))
        self.listener.deaf = deaf

    def _apply_mute(self) -> None:
        self._set_deaf(self._settings.muted)
        self._transition(TurnEvent.MUTED if self._settings.muted else TurnEvent.UNMUTED)

    # -- changes from outside (services, tools, MQTT): the rules live here ----------
    def set_muted(self, muted: bool) -> None:
        self._settings.muted = muted
        self._apply_mute()

    def set_volume(self, volume: float) -> None:
        self._settings.volume = clamp_volume(volume)

    def attach_sink(self, sink: AudioSink | None) -> None:
        """Where the voice goes now (None: text only, e.g. while the speaker is gone)."""
        self._sink = sink

    def update_settings(self, settings: SessionSettings, reset_context: bool = False) -> None:
        """New settings, pushed into the running parts; `reset_context`: start over
        from the (new) initial messages."""
        settings.volume = clamp_volume(settings.volume)
        self._settings = settings
        self._apply_settings()
        if reset_context:
            self.context.initial_messages = list(settings.initial_messages)
            self.context.reset()

    def _apply_settings(self) -> None:
        s = self._settings
        self.listener.set_params(s.endpoint)
        self.listener.interim_secs = s.interim_secs
        self.context.history_tokens = s.history_tokens
        self.context.system_prompt = s.system_prompt
        if self.tools is not None:
            self.tools.runner.client_tools = [tool_from_schema(t) for t in s.tools]
        self._apply_mute()

    def append_messages(self, messages: list[dict[str, Any]]) -> None:
        """Validated messages added to the context (llm:append_to_messages)."""
        for message in messages:
            self.context.append(message)

    def set_messages(self, messages: list[dict[str, Any]]) -> None:
        """The context replaced; a leading system message becomes the prompt (llm:set_context)."""
        self.context.set_messages(messages)
        self._settings.system_prompt = self.context.system_prompt

    def reset_context(self) -> None:
        """Forget the conversation, keep the prompt (llm:reset)."""
        self.context.reset()

    # -- input ----------------------------------------------------------------
    def feed_audio(self, pcm16k: bytes) -> None:
        if self._closed:
            return
        hf = self.hands_free
        if hf.echo is not None:
            pcm16k = hf.echo.process(pcm16k)
        gate = hf.wake_gate
        if gate is not None and not gate.hears(self._clock()):
            if hf.wake_detector is not None and hf.wake_detector.process(pcm16k):
                self.wake("wake_word")
            return
        if self._handoff is not None and self._handoff.takes_audio(pcm16k):
            return  # another pipeline listens to this turn
        self.listener.feed(pcm16k)

    def wake(self, source: str = "push") -> None:
        """Start listening (wake word heard, or push-to-talk)."""
        hf = self.hands_free
        if hf.wake_gate is None:
            return
        hf.wake_gate.wake(self._clock())
        name = hf.wake_detector.name if hf.wake_detector and source == "wake_word" else ""
        self.bus.publish(
            ev.WakeDetected(
                session_id=self.session_id,
                source="push" if source == "push" else "wake_word",
                name=name,
            )
        )
        if hf.earcon and self._sink is not None:
            self._spawn(self._sink.play(hf.earcon), "earcon")

    async def send_text(
        self, text: str, run_immediately: bool = True, audio_response: bool = True
    ) -> BotTurn | None:
        """A typed user turn (RTVI send-text, MQTT ask, the chat command)."""
        text = text.strip()
        if not text:
            return None
        transcript = ev.UserTranscription(
            session_id=self.session_id, text=text, final=True, timestamp=_now_iso()
        )
        if not run_immediately:
            # For the next turn; the bot is not cut off (pipecat appends without running).
            if self._turn is not None:
                self._queued_user.append(text)
            else:
                self.context.add_user(text)
            self.bus.publish(transcript)
            return None
        await self.interrupt()
        self._turn_utt = None  # typed turn: no voice timing
        self._continuation.answer_finished()
        self.context.add_user(text)
        self.bus.publish(transcript)
        return self._respond(text, speak=audio_response)

    def _take_queued_user(self) -> None:
        """Typed text queued while the bot answered joins the context after that answer."""
        for text in self._queued_user:
            self.context.add_user(text)
        self._queued_user.clear()

    async def say(self, text: str) -> BotTurn | None:
        """Speak text as the bot, without the LLM (tts:say)."""
        if not text.strip():
            return None
        await self.interrupt()
        self._turn_utt = None  # typed turn: no voice timing
        self._continuation.answer_finished()
        return self._start_turn(None, text=text.strip(), speak=True)

    async def run_llm(self, speak: bool = True) -> BotTurn:
        """Answer from the current context (llm:run)."""
        await self.interrupt()
        self._turn_utt = None  # typed turn: no voice timing
        self._continuation.answer_finished()
        return self._start_turn(self.context.for_llm(), speak=speak)

    async def interrupt(self, forget_from: int | None = None) -> bool:
        """Stop the bot now; the context keeps what the user heard. True if it was busy.
        `forget_from`: the answer is taken back instead (pipeline/continuation.py): the
        context drops its turns from there on, unless a tool ran in it."""
        if self._handoff is not None:
            self._handoff.stop_speaking()  # Home Assistant's answer, announcement or timer too
        turn, self._turn = self._turn, None
        self._speculative_text = None
        self._held = None
        if turn is None:
            return False
        if turn.committed:
            # Before the turn unwinds: clients see bot-interrupted, then bot-stopped-speaking.
            heard = turn.heard_text()
            self.bus.publish(ev.BotInterrupted(session_id=self.session_id, spoken_text=heard))
        outcome = await turn.cancel()
        if not turn.committed:
            self._take_queued_user()
            return False  # speculative: nobody saw it
        if forget_from is not None and not outcome.tool_messages:
            del self.context.turns[forget_from:]  # the half answer and what it answered
            self._take_queued_user()
            self._turn_ended()
            return True
        if forget_from is not None:
            self._continuation.keep()  # a tool ran: its effect is real, nothing is taken back
        for message in outcome.tool_messages:
            self.context.append(message)  # tools that ran did run
        if outcome.spoken:
            self.context.add_assistant(outcome.spoken)
        self._take_queued_user()
        self._turn_ended()
        return True

    # -- listener callbacks -------------------------------------------------------
    def on_speech_started(self) -> None:
        if self.hands_free.wake_gate is not None:
            self.hands_free.wake_gate.turn_started()
        self.bus.publish(ev.UserStartedSpeaking(session_id=self.session_id))
        self._transition(TurnEvent.USER_STARTED)
        if self._turn is not None:
            self._user_over_bot(self._turn)

    def _user_over_bot(self, turn: BotTurn) -> None:
        """The user speaks while the bot answers. Committed answers hold their voice at
        once and the words decide at their first pause: a backchannel lets it go on,
        anything else stops it, and an answer begun under 2 s ago is taken back."""
        answered = None
        if turn.committed and self._settings.endpoint.turn_recover:
            answered = self._continuation.speech_started(self._clock())
        if not (turn.committed and self._settings.endpoint.turn_backchannel):
            self._stop_for(answered)
            return
        turn.hold()  # quiet at once (pipeline/backchannel.py)
        self._held = (turn, answered)
        asyncio.get_running_loop().call_later(BACKCHANNEL_MAX_SECS, self._hold_expired, turn)

    def _stop_for(self, answered: Answered | None) -> None:
        if answered is not None:
            self._spawn(self._take_back(answered), "take-back")
        else:
            self._spawn(self.interrupt(), "interrupt")

    def _hold_expired(self, turn: BotTurn) -> None:
        """Still talking without a pause: longer than any backchannel."""
        held = self._held
        if held and held[0] is turn and self.listener.in_speech and not self.listener.paused:
            self._held = None
            self._stop_for(held[1])

    def _backchannel_heard(self, text: str, final: bool) -> bool:
        """While the voice holds: True if `text` is only a backchannel (the bot goes on
        once the user is done); otherwise the bot is stopped now."""
        held, self._held = self._held, None
        if held is None or held[0] is not self._turn:
            return False
        turn, answered = held
        if not (is_backchannel(text) or (final and not text)):
            self._stop_for(answered)
            return False
        if not final:
            self._held = held  # until the user is done
        else:
            turn.resume()
            if answered is not None:
                self._continuation.committed(answered)  # "mm-hm" is no continuation
            self._transition(TurnEvent.BOT_SPEAKING)
        return True

    async def _take_back(self, answered: Answered) -> None:
        """The user goes on right after the device took the turn: it was not over."""
        if self._match_intent(answered.text) is not None:
            self._continuation.keep()  # a local command ran: it stands
            await self.interrupt()
            return
        self.listener.endpointer.continued(time.monotonic() - answered.speech_end_at)
        await self.interrupt(forget_from=answered.turns_before)

    def on_interim(self, text: str) -> None:
        self.bus.publish(
            ev.UserTranscription(
                session_id=self.session_id, text=text, final=False, timestamp=_now_iso()
            )
        )

    def on_speech_paused(self, text: str, utt: Utterance) -> None:
        if self._held is not None and self._backchannel_heard(text, final=False):
            return  # "mm-hm": nothing to answer, the bot goes on when the user is done
        pause = self.listener.pause_id
        if self._settings.endpoint.turn_llm and text and self._eou.can_tell():
            # The language model's end-of-turn probability first: the answer shares its
            # prompt prefix (pipeline/eou_text.py), then the speculation.
            self._spawn(self._judge_text(text, utt, pause), "end-of-turn-text")
            return
        self._speculate(text, utt)
        if self._settings.endpoint.turn_llm:
            self.listener.text_eou(pause, None)  # none will come: do not wait for it

    async def _judge_text(self, text: str, utt: Utterance, pause: int) -> None:
        p = await self._eou.probability(
            self.context.for_llm(pending_user=self._continuation.preview(text))
        )
        self.listener.text_eou(pause, p)
        if self.listener.pause_id == pause and self.listener.paused:
            self._speculate(text, utt)  # still in that pause: answer speculatively

    def _speculate(self, text: str, utt: Utterance) -> None:
        # Speculation: think and synthesise now, speak only if the endpoint confirms.
        text = self._continuation.preview(text)
        if not text or self._turn is not None:
            return
        if self._match_intent(text) is not None:
            return  # commands have side effects: wait for the confirmed endpoint
        if self._handoff is not None and self._handoff.answers_turns:
            return  # what the intents do not answer goes elsewhere: nothing to speculate on
        self._speculative_text = text
        self._turn_utt = utt
        self._start_turn(self.context.for_llm(pending_user=text), speak=True, gated=True)

    def on_speech_resumed(self) -> None:
        if self._turn is not None and not self._turn.committed:
            self._spawn(self.interrupt(), "drop-speculation")

    def on_utterance(self, utt: Utterance) -> None:
        self.bus.publish(ev.UserStoppedSpeaking(session_id=self.session_id))
        if self._held is not None and self._backchannel_heard(utt.text, final=True):
            return  # a backchannel: no user turn, the bot's voice goes on
        turn = self._turn
        if not utt.text and not self._continuation.joining:
            if turn is not None and not turn.committed:
                self._spawn(self.interrupt(), "drop-speculation")
            self._transition(TurnEvent.USER_SILENT)
            return
        # A turn taken back (continuation.py): its words lead this message.
        utt.text = self._continuation.join(utt.text)
        self.bus.publish(
            ev.UserTranscription(
                session_id=self.session_id, text=utt.text, final=True, timestamp=_now_iso()
            )
        )
        turns_before = len(self.context.turns)
        self.context.add_user(utt.text)
        self._turn_utt = utt
        self._continuation.committed(
            Answered(utt.text, turns_before, self._clock(), utt.speech_end_at)
        )
        if turn is not None and not turn.committed and self._speculative_text == utt.text:
            utt.final_at = utt.speculated_at  # the speculative transcript was the final one
            turn.commit()
            self._transition(TurnEvent.TURN_STARTED)
            return
        self._spawn(self._restart_turn(), "turn-after-utterance", prepares_answer=True)

    def on_stt_error(self, message: str) -> None:
        self.bus.publish(ev.ErrorEvent(session_id=self.session_id, message=message))

    async def _restart_turn(self) -> None:
        await self.interrupt()
        last = self.context.turns[-1]["content"] if self.context.turns else ""
        self._respond(last, speak=True)

    def _respond(self, text: str, speak: bool) -> BotTurn | None:
        """Answer a committed user message: a local intent if one matches, else the LLM."""
        match = self._match_intent(text)
        if match is None and self._handoff is not None:
            utt = self._turn_utt
            if self._handoff.takes_turn(text, utt):
                return None
        if match is None:
            return self._start_turn(self.context.for_llm(), speak=speak)
        self._spawn(
            self._run_intent(match, speak), f"intent-{match.intent.name}", prepares_answer=True
        )
        return None

    def _match_intent(self, text: str) -> IntentMatch | None:
        t = self.tools
        match = t.intents.match(text) if t is not None and t.intents is not None else None
        if match is None or match.intent.tool or t is None:
            return match
        # "No such device" here, but another may know it: the client's own functions, or
        # Home Assistant's entities when it answers what the device does not.
        if t.runner.client_tools or (self._handoff is not None and self._handoff.answers_turns):
            return None
        return match

    async def _run_intent(self, match: IntentMatch, speak: bool) -> None:
        assert self.tools is not None
        result = (
            await self.tools.runner.local.call(match.intent.tool, match.args)
            if match.intent.tool
            else {}  # an answer without a tool (e.g. a device that is not set up)
        )
        log.info(
            "session %s: intent %s %s -> %s", self.session_id, match.intent.name, match.args, result
        )
        reply = match.response(result)
        if reply:
            self._start_turn(None, text=reply, speak=speak)
        else:
            self.context.add_assistant("")  # e.g. "stop": the user's turn got no words
            self._transition(TurnEvent.TURN_ENDED)

    def remote_state(self, state: ev.BotState) -> None:
        """Another pipeline (Home Assistant) runs this turn: show where it is."""
        self._transition(_REMOTE[state])

    @property
    def handoff(self) -> TurnHandoff | None:
        return self._handoff

    def set_wake_detector(self, detector: WakeDetector) -> None:
        """Listen for another wake word from now on (chosen in Home Assistant)."""
        self.hands_free = dataclasses.replace(self.hands_free, wake_detector=detector)

    def attach_handoff(self, handoff: TurnHandoff | None) -> None:
        """Another pipeline that may take turns (Home Assistant's satellite attaches
        itself once it is serving; None detaches it)."""
        self._handoff = handoff

    def resolve_function_call(self, call_id: str, result: object) -> bool:
        return self.tools is not None and self.tools.runner.resolve(call_id, result)

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
            speak=speak and self._sink is not None,
            speed=s.tts_speed,
            volume=s.volume,
            first_chunk_words=s.first_chunk_words,
            first_max_words=s.first_max_words,
            chunk_ms=self.chunk_ms,
        )
        t = self.tools
        runner = t.runner if (t is not None and messages is not None and t.llm_tools) else None
        turn = BotTurn(
            spec, engines.llm, engines.tts, self._sink, self.publish, gated=gated, tools=runner
        )
        self._turn = turn
        if not gated:
            self._transition(TurnEvent.TURN_STARTED)
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
            self._take_queued_user()
            self._transition(TurnEvent.TURN_ENDED)
            return
        if self._turn is not turn:
            return
        self._turn = None
        self._continuation.answer_finished()
        for message in outcome.tool_messages:
            self.context.append(message)
        said = outcome.spoken or outcome.generated
        if said:
            self.context.add_assistant(said)
        self._take_queued_user()
        self._publish_metrics(outcome)
        self._turn_ended()

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

    async def wait_idle(self, timeout: float = 60.0) -> None:
        """Until the bot has answered (tests, MQTT `ask`, the chat command); at most `timeout`."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._idle.wait()

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

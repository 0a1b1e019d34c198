"""One conversation (session): the turn flow from the user's words to the bot's answer.

Built complete by `rtvi_edge/assembly.py`; several share one `EngineHub`. The flow
only: settings and mute are `DeviceState`'s, the wake/echo gating `InputGate`'s, the
bot's turn `BotTurns`', who answers `AnswerRouter`'s, the turn state `TurnTracker`'s,
the tasks `OwnedTasks`'; what others call is `ConversationApi` (docs/architecture.md).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from rtvi_edge import events as ev
from rtvi_edge.audio.sink import AudioSink
from rtvi_edge.engines.hub import EngineHub
from rtvi_edge.pipeline.answer_router import AnswerRouter
from rtvi_edge.pipeline.bot_turn import BotTurn
from rtvi_edge.pipeline.bot_turns import BotTurns, TurnDeps
from rtvi_edge.pipeline.context import LlmContext
from rtvi_edge.pipeline.continuation import Answered
from rtvi_edge.pipeline.conversation_api import ConversationApi
from rtvi_edge.pipeline.device_state import DeviceState
from rtvi_edge.pipeline.eou_text import TextEndOfTurn
from rtvi_edge.pipeline.hands_free import HandsFree
from rtvi_edge.pipeline.input_gate import GateHooks, InputGate
from rtvi_edge.pipeline.intent_answers import IntentAnswers
from rtvi_edge.pipeline.listener import UserListener, Utterance
from rtvi_edge.pipeline.over_talk import OverTalk, OverTalkDeps
from rtvi_edge.pipeline.owned_tasks import OwnedTasks
from rtvi_edge.pipeline.settings import SessionSettings
from rtvi_edge.pipeline.turn_state import TurnEvent
from rtvi_edge.pipeline.turn_tracker import TurnTracker
from rtvi_edge.tools.setup import SessionHandle, SessionTools

log = logging.getLogger(__name__)

ToolsFactory = Callable[[SessionHandle], SessionTools]
Clock = Callable[[], float]


@dataclass(frozen=True)
class Shared:
    """What every conversation of the device shares: the engines, the event bus and
    the clock (a test's fake one)."""

    hub: EngineHub
    bus: ev.EventBus
    clock: Clock = time.monotonic


class Conversation(ConversationApi):
    def __init__(
        self,
        session_id: str,
        shared: Shared,
        settings: SessionSettings,
        sink: AudioSink | None,
        chunk_ms: int = 40,
        *,
        tools: ToolsFactory | None = None,
        hands_free: HandsFree | None = None,
    ) -> None:
        self._session_id = session_id
        self.hub = hub = shared.hub
        self.bus = bus = shared.bus
        self._sink = sink
        self.chunk_ms = chunk_ms
        self._closed = False
        self.device = DeviceState(settings)
        self.context = LlmContext(
            settings.system_prompt,
            settings.initial_messages,
            settings.history_tokens,
            count_tokens=lambda text: hub.engines.llm.count_tokens(text),
        )
        self._vad = hub.engines.vad  # what the listener's VAD stream came from
        self.listener = UserListener(
            stt=lambda: self.hub.engines.stt,
            vad=self._vad.open_stream(),
            params=settings.endpoint,
            interim_secs=settings.interim_secs,
            callbacks=self,
            turn_model=hub.turn_model,
        )
        self._clock: Clock = shared.clock
        hooks = GateHooks(bus.publish, self._mute_applied, self._play_earcon, self._clock)
        self.gate = InputGate(session_id, hands_free or HandsFree(), self.listener,
                              lambda: self.device.settings, hooks)  # fmt: skip
        self.tracker = TurnTracker(
            session_id, lambda: self.device.muted, bus.publish, self.gate.turn_idle
        )
        self.tasks = OwnedTasks(session_id, self._report_failure)
        self.tools = tools(self) if tools is not None else None
        self.turns = BotTurns(
            TurnDeps(
                session_id, hub, self.context, self.device, self.tracker, self.tasks,
                sink=lambda: self._sink,
                publish=self.publish,
                user_speaking=lambda: self.listener.in_speech,
                tools=self.tools,
                chunk_ms=chunk_ms,
            )
        )  # fmt: skip
        self.answers = AnswerRouter(IntentAnswers(session_id, self.tools), lambda: self._handoff,
                                    self.turns, self.context, self.tracker, self.tasks)  # fmt: skip
        self.device.bind(self.listener, self.context, self.tools, self.gate)
        self.device.watch_controls(self._announce_controls)
        self._eou = TextEndOfTurn(lambda: self.hub.engines.llm)  # pipeline/eou_text.py
        self.over_talk = OverTalk(OverTalkDeps(
            self.turns, self.listener, self.context, self.tasks, self.tracker,
            settings=lambda: self.device.settings, clock=self._clock,
            interrupt=self.interrupt, is_command=self.answers.is_command,
        ))  # fmt: skip
        self.listener.on_voice_over_bot = self.over_talk.voice  # hold at once

    @property
    def session_id(self) -> str:
        return self._session_id

    @property
    def closed(self) -> bool:
        return self._closed

    def publish(self, event: ev.Event) -> None:
        """An event of this conversation; the bot's speech moves the state and the echo guard."""
        if isinstance(event, ev.BotStartedSpeaking):
            self.tracker.transition(TurnEvent.BOT_SPEAKING)
            self.gate.bot_speaking(True)
        elif isinstance(event, ev.BotStoppedSpeaking):
            self.gate.bot_speaking(False)
        self.bus.publish(event)

    def _mute_applied(self, muted: bool) -> None:
        self.tracker.transition(TurnEvent.MUTED if muted else TurnEvent.UNMUTED)

    def _announce_controls(self, muted: bool, volume: float) -> None:
        self.bus.publish(ev.ControlsChanged(session_id=self.session_id, muted=muted, volume=volume))

    def _report_failure(self, message: str) -> None:
        self.bus.publish(ev.ErrorEvent(session_id=self.session_id, message=message))

    def _play_earcon(self, sound: bytes) -> None:
        if self._sink is not None:
            self.tasks.spawn(self._sink.play(sound), "earcon")

    def _transcript(self, text: str, final: bool) -> ev.UserTranscription:
        return ev.UserTranscription(
            session_id=self.session_id, text=text, final=final, timestamp=_now_iso()
        )

    # -- input ----------------------------------------------------------------------------
    def feed_audio(self, pcm16k: bytes) -> None:
        if self._closed:
            return
        heard = self.gate.filter(pcm16k)
        if heard is None:
            return
        if self._handoff is not None and self._handoff.takes_audio(heard):
            return  # another pipeline listens to this turn
        if self.hub.engines.vad is not self._vad and not self.listener.in_speech:
            self._vad = self.hub.engines.vad  # swapped: the next utterance uses it
            self.listener.use_vad(self._vad.open_stream())
        self.listener.feed(heard)

    async def send_text(
        self, text: str, run_immediately: bool = True, audio_response: bool = True
    ) -> BotTurn | None:
        """A typed user turn (RTVI send-text, MQTT ask, the chat command)."""
        text = text.strip()
        if not text:
            return None
        transcript = self._transcript(text, final=True)
        if not run_immediately:
            # For the next turn; the bot is not cut off (pipecat appends without running).
            self.turns.add_user_later(text)
            self.bus.publish(transcript)
            return None
        await self.interrupt()
        self.turns.utt = None  # typed turn: no voice timing
        self.over_talk.continuation.answer_finished()
        self.context.add_user(text)
        self.bus.publish(transcript)
        return self.answers.respond(text, speak=audio_response)

    async def say(self, text: str) -> BotTurn | None:
        """Speak text as the bot, without the LLM (tts:say)."""
        if not text.strip():
            return None
        await self.interrupt()
        self.turns.utt = None  # typed turn: no voice timing
        self.over_talk.continuation.answer_finished()
        return self.turns.start(None, text=text.strip(), speak=True)

    async def run_llm(self, speak: bool = True) -> BotTurn:
        """Answer from the current context (llm:run)."""
        await self.interrupt()
        self.turns.utt = None  # typed turn: no voice timing
        self.over_talk.continuation.answer_finished()
        return self.turns.start(self.context.for_llm(), speak=speak)

    async def interrupt(self, forget_from: int | None = None) -> bool:
        """Stop the bot now; the context keeps what the user heard. True if it was busy.
        `forget_from`: the answer is taken back (pipeline/over_talk.py)."""
        if self._handoff is not None:
            self._handoff.stop_speaking()  # Home Assistant's answer, announcement or timer too
        self.over_talk.clear()
        return await self.turns.interrupt(forget_from)

    # -- listener callbacks -------------------------------------------------------------------
    def on_speech_started(self) -> None:
        self.gate.user_turn_started()
        self.bus.publish(ev.UserStartedSpeaking(session_id=self.session_id))
        self.tracker.transition(TurnEvent.USER_STARTED)
        if self.turns.current is not None:
            self.over_talk.started(self.turns.current)  # hold, then the words decide

    def on_interim(self, text: str) -> None:
        self.bus.publish(self._transcript(text, final=False))

    def on_speech_paused(self, text: str, utt: Utterance) -> None:
        if self.over_talk.holding and self.over_talk.heard(text, final=False):
            return  # "mm-hm": nothing to answer, the bot goes on when the user is done
        pause = self.listener.pause_id
        if self.device.settings.endpoint.turn_llm and text and self._eou.can_tell():
            # The LLM's end-of-turn probability first: the answer shares its prompt
            # prefix (pipeline/eou_text.py); then the speculation.
            self.tasks.spawn(self._judge_text(text, utt, pause), "end-of-turn-text")
            return
        self._speculate(text, utt)
        if self.device.settings.endpoint.turn_llm:
            self.listener.text_eou(pause, None)  # none will come: do not wait for it

    async def _judge_text(self, text: str, utt: Utterance, pause: int) -> None:
        words = self.over_talk.continuation.preview(text)
        utt.timeline.mark("eou_asked")
        p = await self._eou.probability(self.context.for_llm(pending_user=words))
        if self.listener.pause_id == pause and self.listener.paused:
            # Still in that pause: answer speculatively, *before* the probability goes to
            # the endpointer. Its verdict is often waiting for just this probability and
            # ends the turn at once; the answer started after it would be thrown away
            # and begun again from the final transcript (the same words), later.
            self._speculate(text, utt)
        self.listener.text_eou(pause, p)

    def _speculate(self, text: str, utt: Utterance) -> None:
        # Speculation: think and synthesise now, speak only if the endpoint confirms.
        text = self.over_talk.continuation.preview(text)
        if not text or self.turns.current is not None:
            return
        if not self.answers.may_speculate(text):
            return
        self.turns.speculative_text = text
        self.turns.utt = utt
        utt.timeline.mark("speculation")
        self.turns.start(self.context.for_llm(pending_user=text), speak=True, gated=True)

    def on_speech_resumed(self) -> None:
        turn = self.turns.current
        if turn is not None and not turn.committed:
            self.tasks.spawn(self.interrupt(), "drop-speculation")

    def on_utterance(self, utt: Utterance) -> None:
        self.bus.publish(ev.UserStoppedSpeaking(session_id=self.session_id))
        if self.over_talk.holding and self.over_talk.heard(utt.text, final=True):
            return  # a backchannel: no user turn, the bot's voice goes on
        turn = self.turns.current
        continuation = self.over_talk.continuation
        if utt.text and self.listener.in_speech and self.device.settings.endpoint.turn_recover:
            # The user already goes on: no end of turn, these words lead the next ones.
            continuation.defer(utt.text, utt.speech_end_at)
            self.listener.endpointer.continued(time.monotonic() - utt.speech_end_at)
            if turn is not None and not turn.committed:
                self.tasks.spawn(self.interrupt(), "drop-speculation")
            return
        if not utt.text and not continuation.joining:
            if turn is not None and not turn.committed:
                self.tasks.spawn(self.interrupt(), "drop-speculation")
            self.tracker.transition(TurnEvent.USER_SILENT)
            return
        utt.text = continuation.join(utt.text)  # an answer taken back: its words lead
        self.bus.publish(self._transcript(utt.text, final=True))
        turns_before = len(self.context.turns)
        self.context.add_user(utt.text)
        self.turns.utt = utt
        continuation.committed(Answered(utt.text, turns_before, self._clock(), utt.speech_end_at))
        if turn is not None and not turn.committed and self.turns.speculative_text == utt.text:
            utt.final_at = utt.speculated_at  # the speculative transcript was the final one
            self.turns.commit(turn)
            return
        utt.timeline.mark("restarted")  # the speculation (if any) did not answer these words
        self.tasks.spawn(self._restart_turn(), "turn-after-utterance", prepares_answer=True)

    def on_stt_error(self, message: str) -> None:
        self._report_failure(message)

    async def _restart_turn(self) -> None:
        await self.interrupt()
        last = self.context.turns[-1]["content"] if self.context.turns else ""
        self.answers.respond(last, speak=True)

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
        await self.tasks.cancel_all()
        self.gate.close()


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()

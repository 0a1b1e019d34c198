"""The device as Home Assistant's voice satellite: the voice state machine.

A run is one Assist pipeline in Home Assistant:
idle → starting (we asked HA to run its pipeline) → streaming (the microphone
goes to HA) → waiting (HA thinks and answers; we play the answer) → idle.
Who starts a run depends on `[homeassistant] pipeline`:
- `homeassistant`: every wake (wake word or push) streams the user's audio to HA;
- `local-first`: the conversation listens as usual; a turn no local intent
  answers is handed over with the audio already heard (`takes_turn`);
- `local`: never (HA still announces, rings timers and plays media).
HA can also start one (`start_conversation` after an announcement). With no HA
connected every turn stays on the device.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from aioesphomeapi.model import (
    MediaPlayerState,
    VoiceAssistantEventType,
    VoiceAssistantTimerEventType,
)

from rtvi_edge import events as ev
from rtvi_edge.audio.wake import BUILTIN, WakeWordDetector
from rtvi_edge.config import HaPipeline, HomeAssistantConfig
from rtvi_edge.errors import RtviEdgeError
from rtvi_edge.homeassistant import media
from rtvi_edge.homeassistant.messages import Message, pb
from rtvi_edge.homeassistant.speaker import Speaker, timer_chime
from rtvi_edge.pipeline.handoff import HandoffHost
from rtvi_edge.pipeline.listener import Utterance

log = logging.getLogger(__name__)

START_TIMEOUT_SECS = 5.0  # HA answers a run request within this, or we give up
ANSWER_TIMEOUT_SECS = 60.0  # from the end of the user's audio to the end of HA's run
FIRST_EVENT_SECS = 10.0  # HA's pipeline says RUN_START at once; silence means it refused
HEARD_SECS = 30.0  # microphone audio kept for a local-first handoff
HANDOFF_LEAD_SECS = 0.6  # audio from before the VAD fired, so no syllable is lost
AUDIO_CHUNK = 1024  # bytes per VoiceAssistantAudio for pre-heard audio (32 ms)
E = VoiceAssistantEventType


class RunState(enum.Enum):
    IDLE = "idle"
    STARTING = "starting"
    STREAMING = "streaming"
    WAITING = "waiting"


class VoiceLink(Protocol):
    """The API connection that subscribed to the voice assistant."""

    peer_host: str

    def send(self, *msgs: Message) -> None: ...


class Satellite:
    def __init__(
        self,
        conv: HandoffHost,
        cfg: HomeAssistantConfig,
        pipeline: HaPipeline,
        wake_model: str = "",
        wake_threshold: float = 0.0,
    ) -> None:
        self.conv = conv
        self.cfg = cfg
        self.pipeline = pipeline
        self.link: VoiceLink | None = None
        self.state = RunState.IDLE
        self.media_state = MediaPlayerState.IDLE
        self.on_entity_change: Callable[[], None] = lambda: None
        self.on_wake_word_change: Callable[[str], None] = lambda model: None
        self._pending: list[bytes] = []  # microphone audio before HA accepted the run
        self._preheard: bytes | None = None
        self._heard: deque[tuple[float, bytes]] = deque()
        self._conversation_id = ""
        self._continue = False
        self._stream_ended_at = 0.0
        self._deadline: asyncio.TimerHandle | None = None
        self._first_event: asyncio.TimerHandle | None = None  # the run's first word from HA
        self.speaker = Speaker(conv, self._base_url)
        self._answering = False  # the playback is this run's answer
        self._timers: dict[str, str] = {}  # HA timer id → name
        self.active_wake_word = wake_model
        self._wake_threshold = wake_threshold

    def use_config(self, cfg: HomeAssistantConfig, pipeline: HaPipeline) -> None:
        """New settings (a reload): they apply from the next decision of a run."""
        self.cfg = cfg
        self.pipeline = pipeline

    # -- the API connection ------------------------------------------------------------
    def attach(self, link: VoiceLink, api_audio: bool) -> None:
        if not api_audio:
            log.warning(
                "Home Assistant subscribed to the voice assistant without API audio; "
                "this device streams audio over the API only (Home Assistant 2024.8 or newer)"
            )
            return
        if self.link is not None and self.link is not link:
            log.info("another Home Assistant connection took over the voice assistant")
            self._finish_run()
        self.link = link
        log.info("Home Assistant (%s) is listening to the voice assistant", link.peer_host)

    def detach(self, link: VoiceLink) -> None:
        if self.link is not link:
            return
        self.link = None
        if self.state is not RunState.IDLE:
            log.warning("Home Assistant went away during a turn; the turn is dropped")
            self._finish_run()

    def _send(self, *msgs: Message) -> None:
        if self.link is not None:
            self.link.send(*msgs)

    @property
    def gate_sleeps_after_run(self) -> bool:
        return self.pipeline == HaPipeline.HOMEASSISTANT and not self.conv.listens_always

    # -- TurnHandoff: the conversation's hooks -----------------------------------------
    @property
    def answers_turns(self) -> bool:
        return self.pipeline == HaPipeline.LOCAL_FIRST and self.link is not None

    def takes_audio(self, pcm16k: bytes) -> bool:
        if self.state is RunState.STREAMING:
            self._send(pb.VoiceAssistantAudio(data=pcm16k))
            return True
        if self.state is RunState.STARTING:
            if len(self._pending) * len(pcm16k) < self.cfg.max_listen_secs * 32000:
                self._pending.append(pcm16k)
            return True
        if self.pipeline == HaPipeline.LOCAL_FIRST:
            self._remember(pcm16k)
            if self.speaker.playing and self.conv.user_speaking:
                self.stop_speaking()  # barge-in: the user talks over HA's audio
            return False
        if self.pipeline != HaPipeline.HOMEASSISTANT or self.link is None or self.conv.muted:
            return False
        # The gate let this frame through, so the device was just woken.
        self._begin(wake_phrase=self.conv.wake_word or "")
        self._pending.append(pcm16k)
        return True

    def stop_speaking(self) -> bool:
        """Stop HA's answer, announcement, media or timer (barge-in, a stop command)."""
        answering = self._answering
        stopped = self.speaker.stop()
        if stopped and answering:
            self._finish_run()  # the user cut HA's answer short: the run is over
        return stopped

    def takes_turn(self, text: str, utt: Utterance | None) -> bool:
        if self.pipeline != HaPipeline.LOCAL_FIRST or self.link is None or utt is None:
            return False
        audio = self._heard_since(utt.started_at - HANDOFF_LEAD_SECS)
        if not audio:
            return False
        log.info("no local intent for %r: Home Assistant answers it", text)
        self._begin(wake_phrase="", preheard=audio)
        return True

    def _remember(self, pcm: bytes) -> None:
        now = time.monotonic()
        self._heard.append((now, pcm))
        while self._heard and self._heard[0][0] < now - HEARD_SECS:
            self._heard.popleft()

    def _heard_since(self, start: float) -> bytes:
        return b"".join(pcm for at, pcm in self._heard if at >= start)

    # -- a run ---------------------------------------------------------------------------
    def _begin(self, wake_phrase: str, preheard: bytes | None = None) -> None:
        if self.state is not RunState.IDLE:
            self._send(pb.VoiceAssistantRequest(start=False))  # abort HA's run in progress
        self._stop_playback()
        self._reset_run()
        self.state = RunState.STARTING
        self._preheard = preheard
        self.conv.hold_wake_gate()  # hears until the run is over
        self.conv.remote_state(ev.BotState.THINKING if preheard else ev.BotState.LISTENING)
        self._send(
            pb.VoiceAssistantRequest(
                start=True,
                conversation_id=self._conversation_id,
                flags=0,
                audio_settings=pb.VoiceAssistantAudioSettings(),
                wake_word_phrase=wake_phrase,
            )
        )
        self._set_deadline(START_TIMEOUT_SECS, self._start_timed_out)

    def _reset_run(self) -> None:
        self._pending = []
        self._preheard = None
        self._continue = False
        self._answering = False
        self._cancel_deadline()
        if self._first_event is not None:
            self._first_event.cancel()
            self._first_event = None

    def on_response(self, msg: Any) -> None:
        if self.state is not RunState.STARTING:
            return
        self._cancel_deadline()
        if msg.error:
            log.warning("Home Assistant could not start its voice pipeline")
            self._finish_run()
            return
        self.state = RunState.STREAMING
        loop = asyncio.get_running_loop()
        self._first_event = loop.call_later(FIRST_EVENT_SECS, self._pipeline_silent)
        pending, self._pending = self._pending, []
        if self._preheard is not None:
            audio = self._preheard
            for off in range(0, len(audio), AUDIO_CHUNK):
                self._send(pb.VoiceAssistantAudio(data=audio[off : off + AUDIO_CHUNK]))
            self._end_stream()
            return
        for pcm in pending:
            self._send(pb.VoiceAssistantAudio(data=pcm))
        self._set_deadline(self.cfg.max_listen_secs, self._end_stream)

    def _end_stream(self, tell_ha: bool = True) -> None:
        if self.state is not RunState.STREAMING:
            return
        if tell_ha:
            self._send(pb.VoiceAssistantAudio(end=True))  # HA's speech-to-text takes what it got
        self.state = RunState.WAITING
        self._stream_ended_at = time.monotonic()
        if self.gate_sleeps_after_run:
            self.conv.sleep_wake_gate()  # from here a wake word is a barge-in
        self.conv.remote_state(ev.BotState.THINKING)
        self._set_deadline(ANSWER_TIMEOUT_SECS, self._answer_timed_out)

    def _pipeline_silent(self) -> None:
        self._first_event = None
        log.warning(
            "Home Assistant accepted the turn but its pipeline never started: does the "
            "Assist pipeline have a speech-to-text engine? (the turn is dropped)"
        )
        self.conv.publish(
            ev.ErrorEvent(
                session_id=self.conv.session_id,
                message="Home Assistant: its voice pipeline did not start",
            )
        )
        self._end_stream()
        self._finish_run()

    def _start_timed_out(self) -> None:
        log.warning("Home Assistant did not accept the voice pipeline run in time")
        self._finish_run()

    def _answer_timed_out(self) -> None:
        if self.speaker.playing:
            return  # the answer is still playing
        log.warning("Home Assistant's pipeline run did not finish in time")
        self._finish_run()

    def _finish_run(self) -> None:
        self._reset_run()
        was_active = self.state is not RunState.IDLE
        self.state = RunState.IDLE
        if not was_active:
            return
        self.conv.remote_state(ev.BotState.IDLE)
        if self.gate_sleeps_after_run:
            self.conv.sleep_wake_gate()

    def on_event(self, msg: Any) -> None:
        try:
            kind = E(msg.event_type)
        except ValueError:
            log.debug("unknown voice assistant event %s", msg.event_type)
            return
        if self._first_event is not None:
            self._first_event.cancel()  # HA's pipeline runs
            self._first_event = None
        data = {d.name: d.value for d in msg.data}
        log.debug("Home Assistant pipeline: %s %s", kind.name, data)
        sid = self.conv.session_id
        if kind in (E.VOICE_ASSISTANT_STT_VAD_END, E.VOICE_ASSISTANT_STT_END):
            self._end_stream()
            heard = data.get("text") if kind is E.VOICE_ASSISTANT_STT_END else None
            if (
                heard and self.pipeline != HaPipeline.LOCAL_FIRST
            ):  # local-first: the device heard it
                self.conv.publish(ev.UserTranscription(session_id=sid, text=heard, final=True))
        elif kind is E.VOICE_ASSISTANT_INTENT_END:
            self._conversation_id = data.get("conversation_id", self._conversation_id)
            self._continue = data.get("continue_conversation") == "1"
        elif kind is E.VOICE_ASSISTANT_TTS_START and data.get("text"):
            self.conv.publish(ev.BotOutput(session_id=sid, text=data["text"], spoken=False))
            self.conv.add_assistant_text(data["text"])
        elif kind is E.VOICE_ASSISTANT_TTS_END and data.get("url"):
            if self.state is not RunState.IDLE:
                self._answering = True
                self.speaker.start(self._answer(data["url"]), "ha-answer")
        elif kind is E.VOICE_ASSISTANT_ERROR:
            message = data.get("message") or data.get("code") or "unknown error"
            log.warning("Home Assistant's voice pipeline failed: %s", message)
            self.conv.publish(ev.ErrorEvent(session_id=sid, message=f"Home Assistant: {message}"))
            if self.state is RunState.STARTING:
                self._finish_run()
            self._end_stream(tell_ha=False)  # RUN_END follows
        elif kind is E.VOICE_ASSISTANT_RUN_END:
            self._run_ended()

    def _run_ended(self) -> None:
        if self.state is RunState.STARTING:
            return  # a late end of the run before
        if not self._answering:
            self._finish_run()  # no answer to play (else the answer's end finishes the run)

    async def _answer(self, url: str) -> None:
        started = self._stream_ended_at
        try:
            pcm = await self.speaker.fetch(url)
            first = time.monotonic()
            await self._play_pcm(pcm)
        except media.MediaError as exc:
            log.warning("cannot play Home Assistant's answer: %s", exc)
            first = 0.0
        self._answering = False
        self._send(pb.VoiceAssistantAnnounceFinished(success=True))  # HA: the answer was heard
        self.conv.publish(
            ev.TurnMetrics(
                session_id=self.conv.session_id,
                voice_to_voice=first - started if first and started else None,
            )
        )
        if self._continue and self.link is not None:
            self._begin(wake_phrase="")  # HA asked a question: listen without a wake word
        else:
            self._finish_run()

    # -- announcements, media, timers -------------------------------------------------------
    def on_announce(self, msg: Any, asker: VoiceLink) -> None:
        self.speaker.start(self._announce(msg, asker), "ha-announce")

    async def _announce(self, msg: Any, asker: VoiceLink) -> None:
        log.info("Home Assistant announces %r", msg.text or msg.media_id)
        await self.conv.interrupt()
        ok = True
        try:
            for url in (msg.preannounce_media_id, msg.media_id):
                if url:
                    await self._play_pcm(await self.speaker.fetch(url))
        except media.MediaError as exc:
            log.warning("cannot play Home Assistant's announcement: %s", exc)
            ok = False
        except asyncio.CancelledError:
            asker.send(pb.VoiceAssistantAnnounceFinished(success=False))  # cut short
            raise
        asker.send(pb.VoiceAssistantAnnounceFinished(success=ok))  # it waits for this
        if msg.start_conversation and ok and self.link is not None:
            self._begin(wake_phrase="")  # listen for the answer without a wake word

    def on_timer(self, msg: Any) -> None:
        try:
            kind = VoiceAssistantTimerEventType(msg.event_type)
        except ValueError:
            log.debug("unknown timer event %s", msg.event_type)
            return
        name = msg.name or "timer"
        if kind is VoiceAssistantTimerEventType.VOICE_ASSISTANT_TIMER_CANCELLED:
            self._timers.pop(msg.timer_id, None)
            self._timer_event(msg, name, "cancelled")
        elif kind is VoiceAssistantTimerEventType.VOICE_ASSISTANT_TIMER_FINISHED:
            self._timers.pop(msg.timer_id, None)
            self._timer_event(msg, name, "fired")
            log.info("a Home Assistant timer (%s) is done: ringing", name)
            self.speaker.start(self._ring(), "ha-timer")
        else:
            if msg.timer_id not in self._timers:
                self._timer_event(msg, name, "set")
            self._timers[msg.timer_id] = name

    def _timer_event(self, msg: Any, name: str, action: Any) -> None:
        self.conv.publish(
            ev.TimerEvent(
                session_id=self.conv.session_id,
                timer_id=f"ha-{msg.timer_id}",
                label=name,
                action=action,
                seconds=float(msg.total_seconds),
                due=time.time() + msg.seconds_left,
            )
        )

    async def _ring(self) -> None:
        sink = self.conv.sink
        if sink is None:
            return
        pattern = timer_chime(sink.sample_rate)
        repeats = max(1, round(self.cfg.timer_ring_secs * sink.sample_rate * 2 / len(pattern)))
        await self._play_pcm(pattern * repeats)  # one piece: a stop or a wake word ends it

    # entities.Controls
    @property
    def volume(self) -> float:
        return self.conv.volume

    def set_volume(self, volume: float) -> None:
        self.conv.set_volume(volume)

    @property
    def mic_muted(self) -> bool:
        return self.conv.muted

    def set_mic_muted(self, muted: bool) -> None:
        self.conv.set_muted(muted)

    def play_media(self, url: str, announcement: bool) -> None:
        self.speaker.start(self._media(url), "ha-media")

    def stop_media(self) -> None:
        self._stop_playback()

    async def _media(self, url: str) -> None:
        self._set_media_state(MediaPlayerState.PLAYING)
        try:
            await self._play_pcm(await self.speaker.fetch(url))
        except media.MediaError as exc:
            log.warning("cannot play %s: %s", url, exc)
        finally:
            self._set_media_state(MediaPlayerState.IDLE)

    def _set_media_state(self, state: MediaPlayerState) -> None:
        self.media_state = state
        self.on_entity_change()

    # -- wake words ------------------------------------------------------------------------
    def configuration(self) -> Message:
        has_detector = self.conv.wake_word is not None
        words = []
        if has_detector:
            words = [
                pb.VoiceAssistantWakeWord(
                    id=model, wake_word=model.replace("_", " ").title(), trained_languages=["en"]
                )
                for model in BUILTIN
            ]
        active = [self.active_wake_word] if has_detector and self.active_wake_word else []
        return pb.VoiceAssistantConfigurationResponse(
            available_wake_words=words, active_wake_words=active, max_active_wake_words=1
        )

    def set_configuration(self, msg: Any) -> None:
        wanted = [w for w in msg.active_wake_words if w in BUILTIN]
        if wanted and self.use_wake_word(wanted[0]):
            self.on_wake_word_change(wanted[0])

    def use_wake_word(self, model: str) -> bool:
        """Listen for another built-in wake word; True if it changed."""
        if self.conv.wake_word is None or model == self.active_wake_word:
            return False
        try:
            detector = WakeWordDetector(model, self._wake_threshold)
        except RtviEdgeError as exc:
            log.warning("cannot switch the wake word to %s: %s", model, exc)
            return False
        self.conv.set_wake_detector(detector)
        self.active_wake_word = model
        log.info("the wake word is now %r (chosen in Home Assistant)", detector.name)
        return True

    # -- the speaker ---------------------------------------------------------------------
    def _stop_playback(self) -> None:
        self.speaker.stop()
        self._answering = False

    def _base_url(self) -> str:
        if self.cfg.base_url:
            return self.cfg.base_url
        return f"http://{self.link.peer_host}:8123" if self.link is not None else ""

    async def _play_pcm(self, pcm: bytes) -> None:
        await self.speaker.play(pcm)
        if self.state is RunState.IDLE and self.conv.state is ev.BotState.SPEAKING:
            self.conv.remote_state(ev.BotState.IDLE)  # an announcement, media or a timer is over

    def _set_deadline(self, secs: float, fn: Callable[[], None]) -> None:
        self._cancel_deadline()
        self._deadline = asyncio.get_running_loop().call_later(secs, fn)

    def _cancel_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    async def close(self) -> None:
        self._reset_run()
        await self.speaker.close()

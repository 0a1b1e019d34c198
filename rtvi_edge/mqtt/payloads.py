"""Events and device state → MQTT messages (sans-I/O).

Retained topics hold the latest value (state, config, mute, volume, last
transcript/answer, metrics); `event/*` topics are not retained, so that an
automation never fires again for an old transcript when it (re)subscribes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rtvi_edge import events as ev
from rtvi_edge import text_limits
from rtvi_edge.mqtt.topics import Topics

LOCAL = "local"  # the session id of the device's own conversation


@dataclass(frozen=True)
class Publish:
    topic: str
    payload: str
    retain: bool = False
    qos: int = 1


def retained(topic: str, payload: str) -> Publish:
    """A retained value. QoS 0: every (re)connect publishes the latest again, whereas
    paho would re-send an unacknowledged QoS 1 value after a fresher one."""
    return Publish(topic, payload, retain=True, qos=0)


def dumps(obj: Any) -> str:
    return text_limits.dumps_clean(obj)


# -- retained snapshots -----------------------------------------------------------
def availability(t: Topics, online: bool) -> Publish:
    return retained(t.availability, "online" if online else "offline")


def state(t: Topics, value: ev.BotState) -> Publish:
    return retained(t.state, dumps({"state": value}))


def config(t: Topics, value: list[dict[str, Any]]) -> Publish:
    return retained(t.config, dumps(value))


def mute(t: Topics, muted: bool) -> Publish:
    return retained(t.mute, "ON" if muted else "OFF")


def volume(t: Topics, gain: float) -> Publish:
    """0-100 for Home Assistant's number; a gain above 1.0 (set through config) shows 100."""
    return retained(t.volume, str(max(0, min(100, round(gain * 100)))))


def error(t: Topics, message: str, **extra: Any) -> Publish:
    return Publish(t.event("error"), dumps({**extra, "error": message}))


def _ms(value: float | None) -> int | None:
    return None if value is None else round(value * 1000)


def turn_metrics(m: ev.TurnMetrics) -> dict[str, Any]:
    return {
        "session": m.session_id,
        "voice_to_voice_ms": _ms(m.voice_to_voice),
        "endpointing_ms": _ms(m.endpointing),
        "stt_ms": _ms(m.stt),
        "llm_first_token_ms": _ms(m.llm_ttfb),
        "tts_first_audio_ms": _ms(m.tts_ttfb),
        "prompt_tokens": m.prompt_tokens,
        "completion_tokens": m.completion_tokens,
        "characters": m.characters,
        "llm_model": m.llm_model,
        "stt_model": m.stt_model,
        "tts_model": m.tts_model,
    }


class EventMapper:
    """Turns the event stream into MQTT messages. Keeps the little state it needs:
    the answer being spoken, per session, sent whole when the turn ends."""

    def __init__(self, topics: Topics, local_session: str = LOCAL) -> None:
        self.topics = topics
        self.local = local_session
        self._answers: dict[str, list[str]] = {}

    def map(self, event: ev.Event) -> list[Publish]:
        t, sid = self.topics, event.session_id
        if isinstance(event, ev.StateChanged):
            return [state(t, event.state)] if sid == self.local else []
        if isinstance(event, ev.ConfigChanged):
            return [config(t, event.config)] if sid == self.local else []
        if isinstance(event, ev.ControlsChanged):  # e.g. Home Assistant set the volume
            return [mute(t, event.muted), volume(t, event.volume)] if sid == self.local else []
        if isinstance(event, ev.UserTranscription):
            # Final only: interim results arrive several times a second and change.
            if not event.final:
                return []
            self._answers[sid] = []
            return self._said(t.event("user_transcript"), t.last_transcript, sid, event.text)
        if isinstance(event, ev.BotOutput):
            if not event.spoken:
                self._answers.setdefault(sid, []).append(event.text)
            return []
        if isinstance(event, ev.TurnMetrics):
            answer = " ".join(self._answers.pop(sid, []))
            out = [retained(t.metrics, dumps(turn_metrics(event)))]
            if answer:
                out[:0] = self._said(t.event("bot_answer"), t.last_answer, sid, answer)
            return out
        if isinstance(event, ev.BotInterrupted):
            self._answers.pop(sid, None)
            return [self._event("interrupted", session=sid, spoken_text=event.spoken_text)]
        if isinstance(event, ev.TimerEvent):
            return [
                self._event(
                    "timer",
                    session=sid,
                    id=event.timer_id,
                    label=event.label,
                    action=event.action,
                    seconds=event.seconds,
                    due=event.due,
                )
            ]
        if isinstance(event, ev.WakeDetected):
            return [self._event("wake", session=sid, source=event.source, name=event.name)]
        if isinstance(event, ev.ErrorEvent):
            return [error(t, event.message, session=sid, fatal=event.fatal)]
        if isinstance(event, ev.BackendEvent):
            return [
                self._event(
                    "backend",
                    session=sid,
                    stage=event.stage,
                    backend=event.backend,
                    event=event.kind,
                    reason=event.reason,
                    fallback=event.fallback,
                )
            ]
        return []

    def _event(self, event_name: str, /, **body: Any) -> Publish:
        return Publish(self.topics.event(event_name), dumps(body))

    def _said(self, event_topic: str, last_topic: str, sid: str, text: str) -> list[Publish]:
        body = dumps({"session": sid, "text": text})
        out = [Publish(event_topic, body)]
        if sid == self.local:  # the Home Assistant sensors show the device's own conversation
            out.append(retained(last_topic, body))
        return out

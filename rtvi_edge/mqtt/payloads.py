"""Events → MQTT messages, and command payloads → checked values (sans-I/O)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from rtvi_edge import events as ev
from rtvi_edge.errors import RtviEdgeError
from rtvi_edge.mqtt.topics import Topics


class PayloadError(RtviEdgeError):
    """A command payload that cannot be used; nothing was applied."""


@dataclass(frozen=True)
class Publish:
    topic: str
    payload: str
    retain: bool = False
    qos: int = 0


def dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, default=str)


class EventMapper:
    """Turns the event stream into MQTT messages; keeps the little state it needs
    (the answer being spoken, per session)."""

    def __init__(self, topics: Topics, local_session: str = "local") -> None:
        self.topics = topics
        self.local = local_session
        self._answers: dict[str, list[str]] = {}

    def map(self, event: ev.Event) -> list[Publish]:
        t = self.topics
        sid = event.session_id
        if isinstance(event, ev.StateChanged):
            return (
                [Publish(t.state, dumps({"state": event.state}), retain=True)]
                if sid == self.local
                else []
            )
        if isinstance(event, ev.UserTranscription):
            if not event.final:
                return []
            self._answers[sid] = []
            return [
                Publish(
                    t.event("user_transcript"),
                    dumps({"session": sid, "text": event.text}),
                    retain=sid == self.local,
                )
            ]
        if isinstance(event, ev.BotOutput):
            if not event.spoken:
                self._answers.setdefault(sid, []).append(event.text)
            return []
        if isinstance(event, ev.TurnMetrics):
            answer = " ".join(self._answers.pop(sid, []))
            out = [Publish(t.metrics, dumps(turn_metrics(event)), retain=True)]
            if answer:
                out.insert(
                    0,
                    Publish(
                        t.event("bot_answer"),
                        dumps({"session": sid, "text": answer}),
                        retain=sid == self.local,
                    ),
                )
            return out
        if isinstance(event, ev.BotInterrupted):
            self._answers.pop(sid, None)
            return [
                Publish(
                    t.event("interrupted"),
                    dumps({"session": sid, "spoken_text": event.spoken_text}),
                )
            ]
        if isinstance(event, ev.TimerEvent):
            return [
                Publish(
                    t.event("timer"),
                    dumps(
                        {
                            "session": sid,
                            "id": event.timer_id,
                            "label": event.label,
                            "action": event.action,
                            "seconds": event.seconds,
                            "due": event.due,
                        }
                    ),
                )
            ]
        if isinstance(event, ev.WakeDetected):
            return [
                Publish(
                    t.event("wake"),
                    dumps({"session": sid, "source": event.source, "name": event.name}),
                )
            ]
        if isinstance(event, ev.ErrorEvent):
            return [
                Publish(
                    t.event("error"),
                    dumps({"session": sid, "error": event.message, "fatal": event.fatal}),
                )
            ]
        if isinstance(event, ev.ConfigChanged) and sid == self.local:
            return [Publish(t.config, dumps(event.config), retain=True)]
        return []


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


# -- commands ----------------------------------------------------------------
def parse_json(payload: bytes, what: str) -> Any:
    try:
        return json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PayloadError(f"{what}: payload is not valid JSON ({exc})") from None


def text_payload(payload: bytes, what: str) -> str:
    """Plain text, or JSON {"text": ...}."""
    try:
        raw = payload.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise PayloadError(f"{what}: payload is not UTF-8 text") from None
    if raw.startswith("{"):
        obj = parse_json(payload, what)
        if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
            raise PayloadError(f'{what}: JSON payload must be {{"text": "..."}}')
        raw = obj["text"].strip()
    if not raw:
        raise PayloadError(f"{what}: empty text")
    return raw


def config_payload(payload: bytes) -> tuple[list[Any], bool]:
    obj = parse_json(payload, "config/set")
    if isinstance(obj, list):
        return obj, False
    if isinstance(obj, dict) and isinstance(obj.get("config"), list):
        interrupt = obj.get("interrupt", False)
        if not isinstance(interrupt, bool):
            raise PayloadError("config/set: interrupt must be true or false")
        return obj["config"], interrupt
    raise PayloadError(
        "config/set: payload must be a list of {service, options} "
        'or {"config": [...], "interrupt": bool}'
    )


def action_payload(payload: bytes) -> tuple[str, str, Any, Any]:
    obj = parse_json(payload, "action")
    if not isinstance(obj, dict):
        raise PayloadError("action: payload must be an object {service, action, arguments}")
    service, action = obj.get("service"), obj.get("action")
    if not isinstance(service, str) or not isinstance(action, str):
        raise PayloadError("action: service and action must be strings")
    return service, action, obj.get("arguments", []), obj.get("id")


def switch_payload(payload: bytes, what: str) -> bool:
    value = payload.decode("utf-8", "replace").strip().lower()
    if value in ("on", "true", "1", "yes"):
        return True
    if value in ("off", "false", "0", "no"):
        return False
    raise PayloadError(f"{what}: payload must be ON or OFF, got {value[:20]!r}")


def number_payload(payload: bytes, what: str, lo: float, hi: float) -> float:
    raw = payload.decode("utf-8", "replace").strip()
    try:
        obj = json.loads(raw)
        value = float(obj["value"] if isinstance(obj, dict) else obj)
    except (ValueError, KeyError, TypeError, json.JSONDecodeError):
        raise PayloadError(f"{what}: payload must be a number, got {raw[:20]!r}") from None
    if not lo <= value <= hi:
        raise PayloadError(f"{what}: {value:g} is outside {lo:g}-{hi:g}")
    return value

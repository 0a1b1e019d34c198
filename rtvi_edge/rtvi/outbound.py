"""Pipeline events → the RTVI messages a client of the negotiated version expects.

Sans-I/O and stateful per connection, because the wire needs what single events
do not say: which bot-output segment a spoken sentence belongs to (2.x), and
what an interruption cut off (the LLM or TTS still running, a function call
still waiting), which pipecat reports as stopped / cancelled.

Version rules (the client-js releases that declare them in brackets):
- 0.x and 1.0 [client-js 0.x, 1.0 - 1.5]: client function handlers run on
  `llm-function-call`; no `bot-output` (bot-ready echoes 1.0.0, so client-react
  uses transcripts), `bot-transcription` instead.
- 1.1 - 1.x [1.2.0 in client-js 1.6 - 1.8, 1.3.0 in 1.9, 1.4.0 in 1.10 - 1.11]:
  handlers run on `llm-function-call-in-progress` (and, in client-js, ALSO on
  `llm-function-call`: so exactly one of the two is sent); `bot-output` in the
  1.x shape {text, spoken, aggregated_by}, once unspoken, once spoken.
- 2.x [2.0.0 in client-js 1.12, 2.1.0 in 1.13]: `bot-output` with segment_id,
  will_be_spoken, spoken_status (new → in-progress → completed) and
  spoken_progress; `bot-transcription` (deprecated since 1.1) is no longer sent.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from rtvi_edge import events as ev
from rtvi_edge.rtvi.messages import Version

Message = tuple[str, Any]

IN_PROGRESS_SINCE: Version = (1, 1, 0)  # llm-function-call-in-progress, bot-output, user-mute
BOT_OUTPUT_V2_SINCE: Version = (2, 0, 0)

_SIMPLE: dict[type[ev.Event], str] = {
    ev.UserStartedSpeaking: "user-started-speaking",
    ev.UserStoppedSpeaking: "user-stopped-speaking",
}


class OutboundMapper:
    def __init__(self, version: Version) -> None:
        self.version = version  # what this client was told in bot-ready
        self._llm_running = False
        self._tts_running = False
        self._calls: dict[str, str] = {}  # tool_call_id → function name, until stopped
        self._stopped: deque[str] = deque(maxlen=32)  # recent calls, for late results
        self._segments: deque[tuple[int, str]] = deque()  # (segment id, text) being spoken
        self._speaking = False
        self._ahead: list[ev.BotOutput] = []  # sentences to be spoken, held until speech starts
        self._next_segment = 1

    def was_stopped(self, tool_call_id: str) -> bool:
        """A call that was reported stopped (done, timed out or cancelled) lately."""
        return tool_call_id in self._stopped

    def messages(self, event: ev.Event) -> list[Message]:
        name = _SIMPLE.get(type(event))
        if name is not None:
            return [(name, None)]
        if isinstance(event, ev.BotStoppedSpeaking):
            self._speaking = False
            return [("bot-stopped-speaking", None)]
        if isinstance(event, ev.BotStartedSpeaking):
            # Like pipecat: the text of an answer goes out once its speech has started.
            self._speaking = True
            out: list[Message] = [("bot-started-speaking", None)]
            for held in self._ahead:
                out += self._bot_output(held)
            self._ahead.clear()
            return out
        if isinstance(event, ev.BotLlmStarted | ev.BotLlmStopped | ev.BotTtsStarted):
            return self._stage(event)
        if isinstance(event, ev.BotTtsStopped):
            return self._stage(event)
        if isinstance(event, ev.UserTranscription):
            return self._transcription(event)
        if isinstance(event, ev.BotLlmText):
            return [("bot-llm-text", {"text": event.text})]
        if isinstance(event, ev.BotTtsText):
            return [("bot-tts-text", {"text": event.text})]
        if isinstance(event, ev.BotOutput):
            if not event.spoken and event.will_be_spoken and not self._speaking:
                self._ahead.append(event)
                return []
            return self._bot_output(event)
        if isinstance(event, ev.BotSpeechProgress):
            return self._progress(event)
        if isinstance(event, ev.BotInterrupted):
            return self._interrupted()
        if isinstance(event, ev.TurnMetrics):
            return [("metrics", metrics_data(event))]
        if isinstance(event, ev.ErrorEvent):
            return [("error", {"error": event.message, "fatal": event.fatal})]
        if isinstance(event, ev.FunctionCallStarted):
            return self._call_started(event)
        if isinstance(event, ev.FunctionCallStopped):
            return self._call_stopped(event)
        if isinstance(event, ev.UserMuted):
            return [("user-mute-started" if event.muted else "user-mute-stopped", None)]
        return _server_message(event)

    # -- the stages of a turn ---------------------------------------------------
    def _stage(self, event: ev.Event) -> list[Message]:
        """Started/stopped pairs: a stop is sent once, also when an interruption sent it."""
        if isinstance(event, ev.BotLlmStarted):
            self._llm_running = True
            return [("bot-llm-started", None)]
        if isinstance(event, ev.BotTtsStarted):
            self._tts_running = True
            return [("bot-tts-started", None)]
        if isinstance(event, ev.BotLlmStopped):
            running, self._llm_running = self._llm_running, False
            return [("bot-llm-stopped", None)] if running else []
        running, self._tts_running = self._tts_running, False
        return [("bot-tts-stopped", None)] if running else []

    def _interrupted(self) -> list[Message]:
        """pipecat's order: bot-interrupted first, then what the interruption stopped."""
        out: list[Message] = [("bot-interrupted", None)]
        for call_id, name in self._calls.items():
            self._stopped.append(call_id)
            out.append(
                (
                    "llm-function-call-stopped",
                    {"function_name": name, "tool_call_id": call_id, "cancelled": True},
                )
            )
        self._calls.clear()
        if self._llm_running:
            out.append(("bot-llm-stopped", None))
        if self._tts_running:
            out.append(("bot-tts-stopped", None))
        self._llm_running = self._tts_running = False
        self._segments.clear()  # cut off: no completed status follows
        self._ahead.clear()
        return out

    def _transcription(self, event: ev.UserTranscription) -> list[Message]:
        out: list[Message] = [
            (
                "user-transcription",
                {
                    "text": event.text,
                    "final": event.final,
                    "timestamp": event.timestamp,
                    "user_id": "",
                },
            )
        ]
        if event.final:
            out.append(("user-llm-text", {"text": event.text}))  # what the LLM is given
        return out

    # -- bot output -----------------------------------------------------------------
    def _bot_output(self, event: ev.BotOutput) -> list[Message]:
        if self.version < IN_PROGRESS_SINCE:
            return [] if event.spoken else [("bot-transcription", {"text": event.text})]
        if self.version < BOT_OUTPUT_V2_SINCE:
            out: list[Message] = [
                (
                    "bot-output",
                    {"text": event.text, "spoken": event.spoken, "aggregated_by": "sentence"},
                )
            ]
            if not event.spoken:
                out.append(("bot-transcription", {"text": event.text}))  # deprecated in 1.1
            return out
        if event.spoken:
            seg_id = self._finish_segment(event.text)
            if seg_id is None:
                return []  # its segment was cut off by an interruption
            return [
                (
                    "bot-output",
                    _v2(event.text, seg_id, "completed", True, spoken=True, accumulated=event.text),
                )
            ]
        seg_id = self._next_segment
        self._next_segment += 1
        if not event.will_be_spoken:
            return [("bot-output", _v2(event.text, seg_id, "new", False, spoken=False))]
        self._segments.append((seg_id, event.text))
        return [("bot-output", _v2(event.text, seg_id, "new", True, spoken=False, accumulated=""))]

    def _progress(self, event: ev.BotSpeechProgress) -> list[Message]:
        if self.version < BOT_OUTPUT_V2_SINCE:
            return []  # 1.x clients track progress themselves
        seg_id = next((i for i, text in self._segments if text == event.text), None)
        if seg_id is None:
            return []
        data = _v2(event.text, seg_id, "in-progress", True, accumulated=event.accumulated_text)
        data["spoken_progress"]["remaining_text"] = event.remaining_text
        return [("bot-output", data)]

    def _finish_segment(self, text: str) -> int | None:
        for n, (seg_id, seg_text) in enumerate(self._segments):
            if seg_text == text:
                del self._segments[n]
                return seg_id
        return None

    # -- function calls -----------------------------------------------------------------
    def _call_started(self, event: ev.FunctionCallStarted) -> list[Message]:
        self._calls[event.tool_call_id] = event.function_name
        out: list[Message] = [("llm-function-call-started", {"function_name": event.function_name})]
        if not event.client_side:
            return out  # the device runs it: no client handler must answer
        if self.version >= IN_PROGRESS_SINCE:
            data = {
                "function_name": event.function_name,
                "tool_call_id": event.tool_call_id,
                "arguments": event.arguments,
            }
            out.append(("llm-function-call-in-progress", data))
        else:
            data = {
                "function_name": event.function_name,
                "tool_call_id": event.tool_call_id,
                "args": event.arguments,
            }
            out.append(("llm-function-call", data))
        return out

    def _call_stopped(self, event: ev.FunctionCallStopped) -> list[Message]:
        if self._calls.pop(event.tool_call_id, None) is None:
            return []  # already reported stopped (cancelled by an interruption)
        self._stopped.append(event.tool_call_id)
        data: dict[str, Any] = {
            "function_name": event.function_name,
            "tool_call_id": event.tool_call_id,
            "cancelled": event.cancelled,
        }
        if not event.cancelled:
            data["result"] = event.result
        return [("llm-function-call-stopped", data)]


def _v2(
    text: str,
    segment_id: int,
    status: str,
    will_be_spoken: bool,
    *,
    spoken: bool | None = None,
    accumulated: str | None = None,
) -> dict[str, Any]:
    """A 2.x bot-output; spoken_progress only for text that is spoken."""
    data: dict[str, Any] = {
        "text": text,
        "segment_id": segment_id,
        "will_be_spoken": will_be_spoken,
        "spoken_status": status,
    }
    if spoken is not None:
        data["spoken"] = spoken  # what 1.x clients read; pipecat keeps it
    if accumulated is not None:
        data["spoken_progress"] = {
            "accumulated_text": accumulated,
            "remaining_text": text[len(accumulated) :].lstrip(),
        }
    data.update(output_type="sentence", text_type="sentence", aggregated_by="sentence")
    return data


def _server_message(event: ev.Event) -> list[Message]:
    """Device happenings an RTVI client may show: `server-message {type, ...}`."""
    data: dict[str, Any]
    if isinstance(event, ev.StateChanged):
        data = {"type": "state", "state": event.state}
    elif isinstance(event, ev.TimerEvent):
        data = {
            "type": "timer",
            "action": event.action,
            "timer_id": event.timer_id,
            "label": event.label,
            "seconds": event.seconds,
            "due": event.due,
        }
    elif isinstance(event, ev.WakeDetected):
        data = {"type": "wake", "source": event.source, "name": event.name}
    elif isinstance(event, ev.ConfigChanged):
        data = {"type": "config", "config": event.config}
    elif isinstance(event, ev.BackendEvent):
        data = backend_message(event)
    else:
        return []
    return [("server-message", data)]


def backend_message(e: ev.BackendEvent) -> dict[str, Any]:
    """What a client hears about a LAN server failing over or coming back."""
    return {
        "type": "backend",
        "stage": e.stage,
        "backend": e.backend,
        "event": e.kind,
        "reason": e.reason,
        "fallback": e.fallback,
    }


def _metric(processor: str, model: str, value: float | int) -> dict[str, Any]:
    return {"processor": processor, "model": model, "value": value}


def metrics_data(m: ev.TurnMetrics) -> dict[str, Any]:
    """pipecat's metrics message: ttfb/processing/characters entries, flat token usage."""
    ttfb = []
    if m.stt is not None:
        ttfb.append(_metric("stt", m.stt_model, round(m.stt, 4)))
    if m.llm_ttfb is not None:
        ttfb.append(_metric("llm", m.llm_model, round(m.llm_ttfb, 4)))
    if m.tts_ttfb is not None:
        ttfb.append(_metric("tts", m.tts_model, round(m.tts_ttfb, 4)))
    processing = []
    if m.voice_to_voice is not None:
        processing.append(_metric("voice_to_voice", "", round(m.voice_to_voice, 4)))
    if m.endpointing is not None:
        processing.append(_metric("endpointing", "", round(m.endpointing, 4)))
    return {
        "ttfb": ttfb,
        "processing": processing,
        "tokens": [
            {
                "prompt_tokens": m.prompt_tokens,
                "completion_tokens": m.completion_tokens,
                "total_tokens": m.prompt_tokens + m.completion_tokens,
            }
        ],
        "characters": [_metric("tts", m.tts_model, m.characters)],
    }

"""One client connection: frames in, the state machine's steps run, events out.

Engine work runs in worker threads (as everywhere in the daemon), so a slow
request holds up only its own connection. Bad input of any kind is answered
with an `error` event. Events out of order or unknown leave the connection
open; a request that fails (bad fields, over a limit, an engine error), an
unreadable byte stream or a client that keeps sending nonsense close it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from wyoming.asr import Transcript
from wyoming.error import Error
from wyoming.event import Event
from wyoming.handle import Handled, NotHandled
from wyoming.ping import Pong
from wyoming.tts import SynthesizeStopped
from wyoming.wake import Detection, NotDetected

from rtvi_edge.engines.hub import Engines
from rtvi_edge.errors import ProtocolError, RtviEdgeError
from rtvi_edge.wyoming_server.asr import AudioTooLongError, Transcription
from rtvi_edge.wyoming_server.audio_in import PcmFormat
from rtvi_edge.wyoming_server.codec import (
    FrameDecoder,
    Limits,
    WyomingProtocolError,
    encode_event,
)
from rtvi_edge.wyoming_server.handle import Answer
from rtvi_edge.wyoming_server.info import Offer, build_info
from rtvi_edge.wyoming_server.protocol import ConnectionState, Reject, Step
from rtvi_edge.wyoming_server.tts import SpeechOut, TextTooLongError
from rtvi_edge.wyoming_server.wake import DetectorPool, UnknownWakeWordError, WakeDetection

log = logging.getLogger(__name__)

READ_BYTES = 64 * 1024
IDLE_SECS = 300.0  # a connection that sends nothing this long gives its slot back


class Answerer(Protocol):
    async def answer(self, text: str, conversation_id: str | None) -> Answer: ...


@dataclass
class ServiceContext:
    """What the services read per request (engines may be swapped by a reload)."""

    services: frozenset[str]
    engines: Callable[[], Engines]
    offer: Callable[[], Offer]
    tts_speed: Callable[[], float]
    detectors: Callable[[], DetectorPool]
    answerer: Answerer | None
    max_audio_secs: float
    max_text_chars: int
    limits: Limits


def _error_code(exc: Exception) -> str:
    if isinstance(exc, AudioTooLongError):
        return "audio-too-long"
    if isinstance(exc, TextTooLongError):
        return "text-too-long"
    if isinstance(exc, UnknownWakeWordError):
        return "unknown-wake-word"
    if isinstance(exc, ProtocolError):
        return "bad-event"
    return "engine-failed"


def _text(data: dict[str, Any], key: str = "text") -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise ProtocolError(f'"{key}" must be a string, got {type(value).__name__}')
    return value


def _context(data: dict[str, Any]) -> dict[str, Any] | None:
    value = data.get("context")
    return value if isinstance(value, dict) else None


class Connection:
    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, ctx: ServiceContext
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._ctx = ctx
        self._state = ConnectionState(ctx.services)
        self._decoder = FrameDecoder(ctx.limits)
        self._pool: DetectorPool | None = None
        self._request: dict[str, Any] = {}  # the transcribe/detect event's data
        self._asr: Transcription | None = None
        self._wake: WakeDetection | None = None
        self._speech: SpeechOut | None = None  # a streamed text being spoken
        self._whole: SpeechOut | None = None  # a whole text being spoken
        peer = writer.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else "?"

    async def run(self) -> None:
        log.debug("wyoming: %s connected", self.peer)
        try:
            while await self._read_some():
                pass
        except (ConnectionError, OSError) as exc:
            log.info("wyoming: %s went away: %s", self.peer, exc)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("wyoming: %s: internal error", self.peer)
            await self._send_error("internal-error", f"internal error: {exc}")
        finally:
            self._asr = self._wake = self._speech = self._whole = None
            self._writer.close()
            log.debug("wyoming: %s disconnected", self.peer)

    async def _read_some(self) -> bool:
        """False when the connection should end."""
        try:
            data = await asyncio.wait_for(self._reader.read(READ_BYTES), IDLE_SECS)
        except TimeoutError:
            await self._send_error("idle", f"nothing received for {IDLE_SECS:g} s: disconnecting")
            return False
        if not data:
            return False
        self._decoder.feed(data)
        while True:
            try:
                event = self._decoder.next_event()
            except WyomingProtocolError as exc:
                await self._send_error(exc.code, str(exc))
                self._state.errors += 1
                if exc.fatal or self._state.too_many_errors:
                    return False
                continue
            if event is None:
                return True
            if not await self._dispatch(event):
                return False

    async def _dispatch(self, event: Event) -> bool:
        step = self._state.on_event(event.type)
        if isinstance(step, Reject):
            await self._send_error(step.code, step.text)
            if self._state.too_many_errors:
                await self._send_error("too-many-errors", "too many errors: disconnecting")
                return False
            return True
        try:
            await self._run_step(step, event)
        except (ProtocolError, RtviEdgeError) as exc:
            await self._fail(event, _error_code(exc), exc)
            return False
        except (ConnectionError, OSError):
            raise  # the client is gone: the connection ends
        except Exception as exc:  # an engine library's own error: only this request fails
            log.exception("wyoming: %s: %s failed", self.peer, event.type)
            await self._fail(event, "engine-failed", exc)
            return False
        return True

    async def _fail(self, event: Event, code: str, exc: Exception) -> None:
        """A request failed: the error, then the connection closes, as other Wyoming
        servers do (Home Assistant ignores `error` and waits for the answer or the end
        of the connection). audio-stop first closes an answer already begun."""
        log.info("wyoming: %s: request failed: %s", self.peer, exc)
        speech = self._whole or self._speech
        self._asr = self._wake = self._speech = self._whole = None
        await self._send_error(code, f"{event.type}: {exc}")
        if speech is not None:
            await speech.end_audio()

    async def _run_step(self, step: Step, event: Event) -> None:
        data = event.data or {}
        action = step.action
        if action == "describe":
            await self._send(build_info(self._ctx.offer()).event())
        elif action == "pong":
            text = data.get("text")
            await self._send(Pong(text=text if isinstance(text, str) else None).event())
        elif action == "select-program":
            log.debug("wyoming: %s selected program %r", self.peer, data.get("name"))
        elif action == "request":
            await self._on_request(step, data)
        elif action == "audio-start":
            await self._on_audio_start(step, data)
        elif action == "audio-chunk":
            await self._on_audio_chunk(data, event.payload or b"")
        elif action == "audio-stop":
            await self._on_audio_stop()
        elif action == "synthesize":
            self._whole = self._new_speech()
            await self._whole.speak(_text(data))
            await self._whole.finish()
            self._whole = None
        elif action == "synthesize-start":
            self._speech = self._new_speech()
        elif action == "synthesize-chunk":
            assert self._speech is not None  # the state machine saw synthesize-start
            await self._speech.push(_text(data))
        elif action == "synthesize-stop":
            speech, self._speech = self._speech, None
            assert speech is not None  # the state machine saw synthesize-start
            await speech.finish()
            await self._send(SynthesizeStopped().event())
        elif action == "handle":
            await self._on_transcript(data)

    # -- speech to text and wake word --------------------------------------------
    async def _on_request(self, step: Step, data: dict[str, Any]) -> None:
        self._request = data
        if step.task == "detect":
            names = data.get("names")
            if names is not None and not (
                isinstance(names, list) and all(isinstance(n, str) for n in names)
            ):
                raise ProtocolError('detect "names" must be a list of strings')
            await self._detector_pool().select(names)  # an unknown name fails now, not later

    def _detector_pool(self) -> DetectorPool:
        if self._pool is None:
            self._pool = self._ctx.detectors()
        return self._pool

    async def _on_audio_start(self, step: Step, data: dict[str, Any]) -> None:
        fmt = PcmFormat.from_data(data)
        if step.task == "detect":
            detectors = await self._detector_pool().select(self._request.get("names"))
            self._wake = WakeDetection(detectors, fmt)
        else:
            stt = self._ctx.engines().stt
            self._asr = await Transcription.start(stt, fmt, self._ctx.max_audio_secs)

    async def _on_audio_chunk(self, data: dict[str, Any], payload: bytes) -> None:
        job = self._asr or self._wake
        if job is None:
            return
        if any(k in data for k in ("rate", "width", "channels")):
            fmt = PcmFormat.from_data(data)
            if fmt != job.format:
                raise ProtocolError(f"audio-chunk format {fmt} differs from audio-start's")
        if self._asr is not None:
            await self._asr.feed(payload)
        elif self._wake is not None:
            stamp = data.get("timestamp")
            hit = await self._wake.feed(payload, stamp if isinstance(stamp, int) else None)
            if hit is not None:
                await self._send_detection(*hit)

    async def _on_audio_stop(self) -> None:
        context = _context(self._request)
        if self._asr is not None:
            asr, self._asr = self._asr, None
            text = await asr.finish()
            language = self._ctx.offer().language
            await self._send(Transcript(text=text, language=language, context=context).event())
        elif self._wake is not None:
            wake, self._wake = self._wake, None
            hit = await wake.finish()
            if hit is not None:
                await self._send_detection(*hit)
            if not wake.detected:
                await self._send(NotDetected(context=context).event())
        self._request = {}

    async def _send_detection(self, name: str, timestamp: int) -> None:
        log.info("wyoming: %s: wake word %s at %d ms", self.peer, name, timestamp)
        context = _context(self._request)
        await self._send(Detection(name=name, timestamp=timestamp, context=context).event())

    # -- text to speech and answers -----------------------------------------------
    def _new_speech(self) -> SpeechOut:
        return SpeechOut(
            self._ctx.engines().tts, self._ctx.tts_speed(), self._send, self._ctx.max_text_chars
        )

    async def _on_transcript(self, data: dict[str, Any]) -> None:
        text = _text(data).strip()
        if len(text) > self._ctx.max_text_chars:
            raise TextTooLongError(f"more than {self._ctx.max_text_chars} characters to answer")
        context = _context(data) or {}
        cid = context.get("conversation_id")
        answerer = self._ctx.answerer
        assert answerer is not None  # the state machine refuses "transcript" without it
        if not text:
            await self._send(NotHandled(text="I heard nothing to answer.", context=context).event())
            return
        answer = await answerer.answer(text, cid if isinstance(cid, str) else None)
        reply_context = {**context, "conversation_id": answer.conversation_id}
        reply = Handled if answer.handled else NotHandled
        await self._send(reply(text=answer.text, context=reply_context).event())

    # -- output ------------------------------------------------------------------
    async def _send(self, event: Event) -> None:
        self._writer.write(encode_event(event))
        await self._writer.drain()

    async def _send_error(self, code: str, text: str) -> None:
        log.info("wyoming: %s: error %s: %s", self.peer, code, text)
        await send_error(self._writer, code, text)


async def send_error(writer: asyncio.StreamWriter, code: str, text: str) -> None:
    """An `error` event, if the client is still there to read it."""
    with contextlib.suppress(ConnectionError, OSError):
        writer.write(encode_event(Error(text=text, code=code).event()))
        await writer.drain()

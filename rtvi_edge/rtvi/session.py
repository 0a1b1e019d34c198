"""One RTVI client connection: protocol core + conversation + services, over a `Link`.

The same session serves every transport: a WebSocket (websocket.py: protobuf
frames, audio inside them) and a WebRTC peer (webrtc/: JSON on a data channel,
audio as RTP beside it). Three owned tasks: the receiver (audio goes straight
into the conversation, requests to a queue), the request worker (one request at
a time, in order, so a slow `update-config` never stalls the microphone), and
the event forwarder (held until `bot-ready` has gone out: it must be the first
message). All writes go through one writer task, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

import numpy as np

from rtvi_edge import events as ev
from rtvi_edge.audio.pcm import resample
from rtvi_edge.audio.sink import AudioSink
from rtvi_edge.errors import RtviEdgeError
from rtvi_edge.pipeline.conversation import Conversation
from rtvi_edge.rtvi import messages as m
from rtvi_edge.rtvi.protocol import AudioIn, Outgoing, ProtocolState, RequestIn, RtviProtocol
from rtvi_edge.services.conversation_services import ConversationServices

log = logging.getLogger(__name__)

WRITE_QUEUE_LIMIT = 512  # frames; a client this far behind is dropped
INPUT_RATE = 16000  # what the conversation listens to


class Link(Protocol):
    """What a session needs of its transport: RTVI messages in and out, and hanging up."""

    def incoming(self) -> AsyncIterator[bytes | str]:
        """The client's messages; ends when the client is gone."""
        ...

    async def send(self, data: Outgoing) -> None:
        """Raises ConnectionError when the client is gone."""
        ...

    async def close(self) -> None: ...


class RtviSession:
    def __init__(
        self,
        session_id: str,
        link: Link,
        make_conversation: Callable[[RtviSession], Conversation],
        make_host: Callable[[Conversation, Callable[[], Awaitable[None]]], ConversationServices],
        bus: ev.EventBus,
        protocol: RtviProtocol,
        make_sink: Callable[[RtviSession], AudioSink],
        on_client_input: Callable[[ev.ClientInput], Awaitable[Any]] | None = None,
    ) -> None:
        self.session_id = session_id
        self.link = link
        self.bus = bus
        self.protocol = protocol
        self.sink = make_sink(self)
        # The application's hook for client input the device does not serve itself
        # (dtmf, ui-*, app-specific client-message types). Whatever it returns for a
        # client-message goes back as the server-response. Unset: the input is only
        # published on the event bus (ev.ClientInput), and the client gets no error.
        self.on_client_input = on_client_input
        self.conversation = make_conversation(self)
        self.host = make_host(self.conversation, self.close)
        self._write_q: asyncio.Queue[Outgoing | None] = asyncio.Queue()
        self._requests: asyncio.Queue[m.ClientMsg] = asyncio.Queue(maxsize=64)
        self._ready = asyncio.Event()
        self._closing = asyncio.Event()
        # Admission (set by the server): a slot is taken at client-ready, within a deadline.
        self.paired = True
        self.admit: Callable[[m.ClientReady], str | None] = lambda msg: None
        self.ready_timeout: float | None = None
        self.on_closing: Callable[[], None] = lambda: None

    # -- output -----------------------------------------------------------------
    @property
    def ready(self) -> bool:
        """client-ready was answered: audio and events flow."""
        return self._ready.is_set()

    def write(self, data: Outgoing) -> None:
        if self._write_q.qsize() >= WRITE_QUEUE_LIMIT:
            log.warning("session %s: client is not reading; closing", self.session_id)
            self._closing.set()
            return
        self._write_q.put_nowait(data)

    def flush(self) -> None:
        for data in self.protocol.take():
            self.write(data)

    async def _writer(self) -> None:
        while (data := await self._write_q.get()) is not None:
            try:
                await self.link.send(data)
            except ConnectionError:
                return  # the client went away; run() cleans up

    # -- lifecycle --------------------------------------------------------------------
    async def run(self) -> None:
        sub = self.bus.subscribe(self.session_id)
        tasks = [
            asyncio.create_task(self._writer(), name=f"rtvi-writer-{self.session_id}"),
            asyncio.create_task(self._receiver(), name=f"rtvi-receiver-{self.session_id}"),
            asyncio.create_task(self._worker(), name=f"rtvi-requests-{self.session_id}"),
            asyncio.create_task(self._forwarder(sub), name=f"rtvi-events-{self.session_id}"),
        ]
        if self.ready_timeout is not None:
            deadline = self._ready_deadline(self.ready_timeout)
            tasks.append(asyncio.create_task(deadline, name=f"rtvi-ready-{self.session_id}"))
        closing = asyncio.create_task(self._closing.wait())
        try:
            await asyncio.wait([closing, *tasks], return_when=asyncio.FIRST_COMPLETED)
        finally:
            await self._teardown(sub, tasks, closing)

    async def _teardown(
        self, sub: ev.Subscription, tasks: list[asyncio.Task[None]], closing: asyncio.Task[bool]
    ) -> None:
        """Every step runs even when an earlier one fails (a turn failing in close())."""
        self.on_closing()  # its slot is free now: a reconnecting client gets in at once
        sub.close()
        self.protocol.close()
        try:
            await self.conversation.close()
        except Exception:
            log.exception("session %s: closing the conversation failed", self.session_id)
        finally:
            for t in tasks[1:]:
                t.cancel()
            await asyncio.gather(*tasks[1:], return_exceptions=True)
            # Let what is queued (a goodbye, a fatal error) go out, briefly.
            self._write_q.put_nowait(None)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(tasks[0], 2.0)
            tasks[0].cancel()
            closing.cancel()
            await asyncio.gather(tasks[0], closing, return_exceptions=True)
            for t in tasks:
                if not t.cancelled() and t.exception() is not None:
                    log.warning(
                        "session %s: %s ended: %s", self.session_id, t.get_name(), t.exception()
                    )
            with contextlib.suppress(Exception):
                await self.link.close()

    async def _ready_deadline(self, secs: float) -> None:
        """A socket that never sends client-ready is closed; it never held a slot."""
        try:
            await asyncio.wait_for(self._ready.wait(), secs)
        except TimeoutError:
            self._fatal(f"no client-ready within {secs:g} s")
            return
        await self._closing.wait()

    def _fatal(self, why: str) -> None:
        log.info("session %s: closing: %s", self.session_id, why)
        self.protocol.send("error", {"error": why, "fatal": True})
        self.flush()
        self._closing.set()

    async def close(self) -> None:
        self._closing.set()

    # -- input ------------------------------------------------------------------------
    async def _receiver(self) -> None:
        async for data in self.link.incoming():
            inbound = self.protocol.receive(data)
            try:
                self._route(inbound)
            except Exception:  # a bug while routing one message: never the session's end
                log.exception("session %s: input could not be routed", self.session_id)
                self.protocol.error_response("", "internal error while reading that message")
            self.flush()
            if self.protocol.state is ProtocolState.CLOSED:
                break

    def _route(self, inbound: list[AudioIn | RequestIn]) -> None:
        for item in inbound:
            if isinstance(item, AudioIn):
                if self._ready.is_set():  # nothing is served before client-ready
                    self._audio(item)
            elif isinstance(item, RequestIn):
                if (
                    isinstance(item.message, m.ClientReady)
                    or self.protocol.state is ProtocolState.READY
                ):
                    self._enqueue(item.message)
                else:
                    self.protocol.error_response(
                        item.message.id, "send client-ready first; nothing is served before it"
                    )

    def _audio(self, item: AudioIn) -> None:
        pcm = item.pcm
        if item.num_channels > 1:
            frames = np.frombuffer(pcm, dtype=np.int16)
            usable = len(frames) - len(frames) % item.num_channels
            pcm = (
                frames[:usable]
                .reshape(-1, item.num_channels)
                .mean(axis=1)
                .astype(np.int16)
                .tobytes()
            )
        if item.sample_rate != INPUT_RATE:  # channels and rate were checked by the protocol
            pcm = resample(pcm, item.sample_rate, INPUT_RATE)
        self.conversation.feed_audio(pcm)

    def feed_audio(self, pcm: bytes) -> None:
        """16 kHz mono s16le from a transport that carries audio beside the messages
        (WebRTC's RTP track); nothing is heard before client-ready, as on a WebSocket."""
        if self._ready.is_set() and not self._closing.is_set():
            self.conversation.feed_audio(pcm)

    def _enqueue(self, msg: m.ClientMsg) -> None:
        if isinstance(msg, m.FunctionCallResult):
            # Answered at once: a turn is waiting on it.
            if self.conversation.resolve_function_call(msg.tool_call_id, msg.result):
                return
            if self.protocol.outbound.was_stopped(msg.tool_call_id):
                # Too late (cut off by an interruption, or timed out): nothing to fix.
                log.info(
                    "session %s: late result for %s ignored", self.session_id, msg.tool_call_id
                )
                return
            self.protocol.error_response(
                msg.id, f"no function call {msg.tool_call_id!r} is waiting for a result"
            )
            return
        if self._requests.full():
            self.protocol.error_response(msg.id, "too many requests in flight; slow down")
            return
        self._requests.put_nowait(msg)

    async def _worker(self) -> None:
        while True:
            msg = await self._requests.get()
            if self._closing.is_set():
                continue  # refused at client-ready (device full): serve nothing more
            try:
                await self._handle(msg)
            except RtviEdgeError as exc:
                self.protocol.error_response(msg.id, str(exc))
            except Exception as exc:
                log.exception("session %s: request %r failed", self.session_id, msg)
                self.protocol.error_response(msg.id, f"internal error: {exc}")
            self.flush()

    async def _handle(self, msg: m.ClientMsg) -> None:
        p = self.protocol
        if isinstance(msg, m.ClientReady):
            why = self.admit(msg)
            if why is not None:
                self._fatal(why)
                return
            p.bot_ready(msg.id, self.host.get_config())
            if self.conversation.settings.muted:  # a client joining a muted device
                p.event(ev.UserMuted(session_id=self.session_id, muted=True, reason="muted"))
            self.flush()
            self._ready.set()
        elif isinstance(msg, m.SendText):
            await self.conversation.send_text(msg.content, msg.run_immediately, msg.audio_response)
        elif isinstance(msg, m.AppendToContext):
            if msg.dropped:
                p.error_response(
                    msg.id,
                    f"append-to-context: used the text; left out {len(msg.dropped)} content "
                    f"part(s) of type {', '.join(msg.dropped)} (this device's language "
                    "model takes text only)",
                )
            await self.host.run_action(
                "llm",
                "append_to_messages",
                [
                    {"name": "messages", "value": [{"role": msg.role, "content": msg.content}]},
                    {"name": "run_immediately", "value": msg.run_immediately},
                ],
                check_pairing=False,
            )
        elif isinstance(msg, m.DisconnectBot):
            await self.close()
        elif isinstance(msg, m.ClientMessage):
            if msg.t not in m.SERVICE_REQUESTS:
                await self._client_input("client-message", msg.t, msg.d, msg.id)
                return
            result = await self._service(m.service_request(msg))
            p.send("server-response", {"t": msg.t, "d": result}, msg.id)
        elif isinstance(msg, m.Dtmf):
            await self._client_input("dtmf", "".join(msg.buttons), list(msg.buttons), msg.id)
        elif isinstance(msg, m.UiMessage):
            name = msg.data.get("event") or msg.data.get("job_id") or ""
            await self._client_input(msg.type, str(name), msg.data, msg.id)
        else:
            mtype, data = await self._service_reply(msg)
            p.send(mtype, data, msg.id)

    async def _client_input(
        self, kind: ev.ClientInputKind, name: str, data: Any, msg_id: str
    ) -> None:
        """For the application: the bus always, the hook if one is set. Never an error
        to the client just because nobody here handles it (pipecat ignores it too)."""
        event = ev.ClientInput(
            session_id=self.session_id, kind=kind, name=name, data=data, msg_id=msg_id
        )
        self.bus.publish(event)
        if self.on_client_input is None:
            log.debug("session %s: %s %r: no application hook", self.session_id, kind, name)
            return
        reply = await self.on_client_input(event)
        if kind == "client-message" and reply is not None:
            self.protocol.send("server-response", {"t": name, "d": reply}, msg_id)

    async def _service(self, msg: m.ClientMsg) -> Any:
        return (await self._service_reply(msg))[1]

    async def _service_reply(self, msg: m.ClientMsg) -> tuple[str, Any]:
        """The 0.x services messages and what they answer."""
        h = self.host
        if isinstance(msg, m.UpdateConfig):
            return "config", {"config": await h.update_config(msg.config, msg.interrupt)}
        if isinstance(msg, m.GetConfig):
            return "config", {"config": h.get_config()}
        if isinstance(msg, m.DescribeConfig):
            return "config-available", {"config": h.describe_config()}
        if isinstance(msg, m.DescribeActions):
            return "actions-available", {"actions": h.describe_actions()}
        if isinstance(msg, m.Action):
            return "action-response", {
                "result": await h.run_action(msg.service, msg.action, msg.arguments)
            }
        raise m.MessageError(f"unexpected message {type(msg).__name__}", getattr(msg, "id", ""))

    async def _forwarder(self, sub: ev.Subscription) -> None:
        await self._ready.wait()
        while True:
            event = await sub.get()
            self.protocol.event(event)
            self.flush()

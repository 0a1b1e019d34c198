"""Issue 28: a property test over the RTVI message schema. Every message type, every
field given any JSON value (arbitrary Unicode, sizes, nesting), over a real session
(protocol, session, services, a conversation on fake engines): each input is
answered, the session stays open and serves the next request, and nothing is
logged as an error (no traceback: bad input is the client's mistake)."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from aiohttp import WSMsgType
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from rtvi_edge import events as ev
from rtvi_edge.assembly import Assembly
from rtvi_edge.config import Config
from rtvi_edge.engines.hub import EngineHub
from rtvi_edge.errors import EngineError
from rtvi_edge.rtvi import frames
from rtvi_edge.rtvi.protocol import RtviProtocol
from rtvi_edge.rtvi.session import RtviSession
from rtvi_edge.rtvi.websocket import WebSocketLink, WebSocketSink
from rtvi_edge.services.conversation_services import ConversationServices
from rtvi_edge.services.settings_owner import SettingsOwner
from rtvi_edge.tools.setup import ToolSetup
from tests.fakes import fake_engines

# Every field the parser and the services read, per message type (disconnect-bot ends
# the session on purpose, so it is left out).
SCHEMA: dict[str, tuple[str, ...]] = {
    "client-ready": ("version", "about"),
    "client-message": ("t", "d"),
    "send-text": ("content", "options"),
    "append-to-context": ("role", "content", "run_immediately"),
    "dtmf": ("button", "buttons"),
    "ui-event": ("event", "data"),
    "ui-snapshot": ("tree",),
    "ui-cancel-job-group": ("job_id",),
    "llm-function-call-result": ("function_name", "tool_call_id", "arguments", "result"),
    "update-config": ("config", "interrupt"),
    "get-config": (),
    "describe-config": (),
    "describe-actions": (),
    "action": ("service", "action", "arguments"),
}
SERVICES = ("update-config", "get-config", "describe-config", "describe-actions", "action")

HOSTILE = ["²", "1" * 5000, "١.٢.٣", "2.1.0", "", "x" * 20_000, "tts", "llm", "say", "model"]
text = st.sampled_from(HOSTILE) | st.text(alphabet=st.characters(), max_size=40)
numbers = st.integers(min_value=-(10**60), max_value=10**60) | st.floats(allow_nan=False)
scalars = text | st.none() | st.booleans() | numbers
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=12,
)
# The services' own shapes, with any value inside: reaches the validation past the form.
service_items = st.lists(
    st.fixed_dictionaries(
        {
            "service": st.sampled_from(["vad", "stt", "llm", "tts", "audio", "x"]) | text,
            "options": st.lists(
                st.fixed_dictionaries(
                    {
                        "name": text | st.sampled_from(["model", "engine", "muted"]),
                        "value": json_values,
                    }
                ),
                max_size=3,
            )
            | json_values,
        }
    ),
    max_size=3,
)


@st.composite
def messages(draw: Any) -> bytes | str:
    if draw(st.integers(0, 9)) == 0:  # an audio frame: its fields are part of the schema
        channels = draw(st.integers(0, 2**40) | st.sampled_from([0, 1, 2, 9]))
        rate = draw(st.integers(0, 2**32) | st.sampled_from([0, 16000, 48000]))
        return frames.encode_audio(draw(st.binary(max_size=64)), rate, channels)
    mtype = draw(st.sampled_from(sorted(SCHEMA)) | text)
    fields = SCHEMA.get(mtype, ())
    data: dict[str, Any] = {}
    for name in fields:
        if draw(st.integers(0, 3)):  # mostly present
            data[name] = draw(service_items if name in ("config", "arguments") else json_values)
    if mtype == "client-message":
        data["t"] = draw(st.sampled_from(SERVICES) | text)
        data["d"] = draw(st.fixed_dictionaries({"config": service_items}) | json_values)
    envelope: dict[str, Any] = {"label": "rtvi-ai", "type": mtype, "id": draw(json_values)}
    envelope["data"] = data if draw(st.integers(0, 4)) else draw(json_values)
    body = json.dumps(envelope, ensure_ascii=draw(st.booleans()))
    if draw(st.booleans()):
        return body  # a text WebSocket message
    return frames.encode_message(body)


def _frame(mtype: str, data: Any) -> bytes:
    return frames.encode_message(json.dumps({"label": "rtvi-ai", "type": mtype, "data": data}))


class _Ws:
    """The WebSocket the session reads and writes, in memory."""

    def __init__(self) -> None:
        self.incoming: asyncio.Queue[Any] = asyncio.Queue()
        self.sent: list[dict[str, Any]] = []
        self.closed = False
        self.got = asyncio.Event()

    def __aiter__(self) -> _Ws:
        return self

    async def __anext__(self) -> Any:
        msg = await self.incoming.get()
        if msg is None:
            raise StopAsyncIteration
        return msg

    async def send_bytes(self, data: bytes) -> None:
        frame = frames.decode_frame(data)
        if isinstance(frame, frames.MessageFrame):
            self.sent.append(json.loads(frame.data))
            self.got.set()

    async def close(self) -> None:
        self.closed = True

    def exception(self) -> None:
        return None


class _Message:
    def __init__(self, data: bytes | str) -> None:
        self.type = WSMsgType.TEXT if isinstance(data, str) else WSMsgType.BINARY
        self.data = data


async def _refuse_swaps(new: Config) -> None:
    raise EngineError("no engine swaps in this test")  # a paired client's device changes


async def _drive(inputs: list[bytes | str], state_dir: Path, paired: bool) -> tuple[_Ws, bool]:
    config = Config()
    hub = EngineHub(fake_engines(), config)
    bus = ev.EventBus()
    assembly = Assembly(lambda: config, hub, bus, ToolSetup(config, None, None))
    hub.reconfigure = _refuse_swaps  # type: ignore[method-assign]
    device = SettingsOwner(config, state_dir)
    device.hub = hub
    ws = _Ws()

    def services(conv: Any, disconnect: Any) -> ConversationServices:
        host = ConversationServices(conv, device, disconnect)
        host.paired = paired  # a guest on the LAN, or a client with the token
        return host

    session = RtviSession(
        "prop",
        WebSocketLink(ws),  # type: ignore[arg-type]
        lambda s: assembly.rtvi("prop", s.sink),
        services,
        bus,
        RtviProtocol(1 << 20),
        lambda s: WebSocketSink(s, 16000),
    )
    session.host.paired = paired
    run = asyncio.create_task(session.run())
    ready = frames.encode_message(
        json.dumps({"label": "rtvi-ai", "type": "client-ready", "id": "r", "data": {}})
    )
    for data in [ready, *inputs]:
        ws.incoming.put_nowait(_Message(data))
    probe = {"label": "rtvi-ai", "type": "get-config", "id": "probe"}
    ws.incoming.put_nowait(_Message(frames.encode_message(json.dumps(probe))))
    answered = False
    async with asyncio.timeout(30):
        while not answered and not run.done():
            got = asyncio.ensure_future(ws.got.wait())
            await asyncio.wait([got, run], return_when=asyncio.FIRST_COMPLETED)
            got.cancel()
            ws.got.clear()
            answered = any(m.get("id") == "probe" for m in ws.sent)
    alive = not run.done()
    await session.close()
    await asyncio.wait_for(run, 10)
    return ws, alive and answered


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(inputs=st.lists(messages(), min_size=1, max_size=8), paired=st.booleans())
@example(inputs=[_frame("client-ready", {"version": "²"})], paired=False)  # the issue's
@example(inputs=[_frame("client-ready", {"version": "1" * 5000})], paired=False)
@example(inputs=[frames.encode_audio(b"\0" * 64, 16000, 2**40)], paired=True)
def test_any_message_is_answered_and_the_session_lives(
    inputs: list[bytes | str], paired: bool, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        ws, alive = asyncio.run(_drive(inputs, tmp_path, paired))
    assert alive, ws.sent[-5:]  # never a close: the probe after them was answered
    assert not ws.closed or alive
    internal = [m for m in ws.sent if "internal error" in json.dumps(m)]
    assert not internal, internal[:3]
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not errors, [r.getMessage() for r in errors[:3]]

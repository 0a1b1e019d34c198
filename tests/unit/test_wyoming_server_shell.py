"""The Wyoming server's asyncio shell with stand-in engines: real sockets on
127.0.0.1 and the real `wyoming` client, no models."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import cast

import pytest
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Describe, Info
from wyoming.tts import Synthesize

from rtvi_edge.engines.hub import Engines
from rtvi_edge.wyoming_server.codec import Limits
from rtvi_edge.wyoming_server.connection import ServiceContext
from rtvi_edge.wyoming_server.info import Offer
from rtvi_edge.wyoming_server.server import WyomingServer
from rtvi_edge.wyoming_server.wake import DetectorPool


class FakeStream:
    def __init__(self) -> None:
        self.fed = 0

    def feed(self, pcm: bytes) -> None:
        self.fed += len(pcm)

    def partial(self) -> str:
        return ""

    def finish(self) -> str:
        return f"heard {self.fed // 32000} seconds"


class FakeStt:
    name = model_name = "fake-stt"
    streaming = False

    def open_stream(self) -> FakeStream:
        return FakeStream()


class FakeTts:
    name = model_name = "fake-tts"
    sample_rate = 8000

    def synthesize(self, text: str, speed: float) -> Iterator[bytes]:
        if "explode" in text:
            raise RuntimeError("onnxruntime fell over")
        yield b"\x10\x00" * 800 * len(text.split())


def context(services: set[str]) -> ServiceContext:
    engines = cast(Engines, type("E", (), {"stt": FakeStt(), "tts": FakeTts()})())
    offer = Offer(
        services=frozenset(services),
        device_name="test",
        language="en",
        stt_model="fake-stt",
        tts_voice="fake-tts",
        tts_languages=("en",),
        llm_model="fake-llm",
        wake_words=(),
    )
    return ServiceContext(
        services=frozenset(services),
        engines=lambda: engines,
        offer=lambda: offer,
        tts_speed=lambda: 1.0,
        detectors=lambda: DetectorPool((), "okay_nabu", 0.0),
        answerer=None,
        max_audio_secs=2.0,
        max_text_chars=100,
        limits=Limits(),
    )


@pytest.fixture
async def server() -> AsyncIterator[WyomingServer]:
    srv = WyomingServer("127.0.0.1", 0, context({"asr", "tts"}))
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()


def connect(srv: WyomingServer) -> AsyncTcpClient:
    return AsyncTcpClient("127.0.0.1", srv.port, read_timeout=10)


async def read(c: AsyncTcpClient) -> Event:
    event = await c.read_event()
    assert event is not None
    return event


async def test_describe_offers_only_the_configured_services(server: WyomingServer) -> None:
    async with connect(server) as c:
        await c.write_event(Describe().event())
        info = Info.from_event(await read(c))
    assert [p.models[0].name for p in info.asr] == ["fake-stt"]
    assert [p.voices[0].name for p in info.tts] == ["fake-tts"]
    assert info.wake == [] and info.handle == []


async def test_several_requests_on_one_connection(server: WyomingServer) -> None:
    async with connect(server) as c:
        await c.write_event(Synthesize(text="one two three").event())
        types = []
        while not types or types[-1] != "audio-stop":
            types.append((await read(c)).type)
        assert types[0] == "audio-start" and "audio-chunk" in types
        await c.write_event(Transcribe().event())
        await c.write_event(AudioStart(rate=8000, width=2, channels=1).event())
        await c.write_event(AudioChunk(rate=8000, width=2, channels=1, audio=bytes(16000)).event())
        await c.write_event(AudioStop().event())
        assert Transcript.from_event(await read(c)).text == "heard 1 seconds"


async def test_out_of_order_events_leave_the_connection_open(server: WyomingServer) -> None:
    async with connect(server) as c:
        await c.write_event(AudioStop().event())
        assert Error.from_event(await read(c)).code == "no-audio-start"
        await c.write_event(Event("detect"))
        assert Error.from_event(await read(c)).code == "service-off"
        await c.write_event(Describe().event())
        assert Info.is_type((await read(c)).type)


async def refused(server: WyomingServer, *events: Event) -> list[str]:
    """What the server sends back up to closing the connection."""
    c = connect(server)
    await c.connect()
    seen = []
    # The server may close while audio is still on its way to it: then a reset.
    with contextlib.suppress(ConnectionResetError, BrokenPipeError):
        for event in events:
            await c.write_event(event)
        while (reply := await c.read_event()) is not None:
            seen.append(Error.from_event(reply).code if reply.type == "error" else reply.type)
    with contextlib.suppress(ConnectionResetError, BrokenPipeError):
        await c.disconnect()
    return seen


async def test_a_failed_request_gets_an_error_and_the_connection_closes(
    server: WyomingServer,
) -> None:
    # Home Assistant ignores `error` and waits for the answer or the end of the connection.
    assert await refused(server, Synthesize(text="word " * 30).event()) == ["text-too-long"]
    three_secs = [
        AudioChunk(rate=16000, width=2, channels=1, audio=bytes(32000)).event() for _ in range(3)
    ]
    assert await refused(
        server,
        Transcribe().event(),
        AudioStart(rate=16000, width=2, channels=1).event(),
        *three_secs,
    ) == ["audio-too-long"]
    assert await refused(
        server, Transcribe().event(), AudioStart(rate=16000, width=7, channels=1).event()
    ) == ["bad-event"]
    # An answer already begun is closed with audio-stop, so a client reading up to it
    # is not left waiting.
    assert await refused(server, Synthesize(text="please explode").event()) == [
        "audio-start",
        "engine-failed",
        "audio-stop",
    ]
    async with connect(server) as c:  # and the server goes on serving
        await c.write_event(Describe().event())
        assert Info.is_type((await read(c)).type)


async def test_stop_closes_connections_mid_stream() -> None:
    srv = WyomingServer("127.0.0.1", 0, context({"asr"}))
    await srv.start()
    c = connect(srv)
    await c.connect()
    await c.write_event(Transcribe().event())
    await c.write_event(AudioStart(rate=16000, width=2, channels=1).event())
    for _ in range(50):
        if srv.connections:
            break
        await asyncio.sleep(0.01)
    assert srv.connections == 1
    await srv.stop()
    assert srv.connections == 0
    try:
        event = await c.read_event()
    except ConnectionResetError:  # closed with the client's audio unread: a reset
        event = None
    assert event is None
    with contextlib.suppress(ConnectionResetError):
        await c.disconnect()

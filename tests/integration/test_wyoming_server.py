"""The daemon's Wyoming services, driven by the real `wyoming` client (the one Home
Assistant uses): describe, transcribe, synthesize, detect, handle, zeroconf, bad input."""

from __future__ import annotations

import asyncio
import subprocess
import wave
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import numpy as np
import pytest
import pytest_asyncio
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.error import Error
from wyoming.event import Event
from wyoming.handle import Handled
from wyoming.info import Describe, Info
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop
from wyoming.wake import Detect, Detection, NotDetected

from rtvi_edge.daemon import Daemon
from tests.integration.daemon_harness import running_daemon

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

READ_SECS = 120  # engines on a busy 2-core machine: generous, never asserted as a timing


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def daemon(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Daemon]:
    state = tmp_path_factory.mktemp("wyoming-state")
    async with running_daemon(
        state,
        rtvi={"enabled": False},
        wyoming={
            "enabled": True,
            "host": "127.0.0.1",
            "port": 0,
            "zeroconf_interface": "127.0.0.1",
        },
    ) as d:
        yield d


def client(daemon: Daemon) -> AsyncTcpClient:
    return AsyncTcpClient("127.0.0.1", daemon.wyoming.port, read_timeout=READ_SECS)


async def next_event(c: AsyncTcpClient) -> Event:
    event = await c.read_event()
    assert event is not None, "the server closed the connection"
    return event


def wav_frames(path: Path) -> tuple[bytes, int, int, int]:
    with wave.open(str(path), "rb") as w:
        return w.readframes(w.getnframes()), w.getframerate(), w.getsampwidth(), w.getnchannels()


async def send_audio(c: AsyncTcpClient, path: Path, chunk_secs: float = 0.1) -> None:
    pcm, rate, width, channels = wav_frames(path)
    await c.write_event(AudioStart(rate=rate, width=width, channels=channels).event())
    step = int(rate * chunk_secs) * width * channels
    for i in range(0, len(pcm), step):
        chunk = AudioChunk(rate=rate, width=width, channels=channels, audio=pcm[i : i + step])
        await c.write_event(chunk.event())
    await c.write_event(AudioStop().event())


async def read_speech(c: AsyncTcpClient) -> tuple[bytes, int, list[str]]:
    """Audio events up to audio-stop: (pcm, rate, event types seen)."""
    pcm, rate, seen = b"", 0, []
    while True:
        event = await next_event(c)
        seen.append(event.type)
        assert not Error.is_type(event.type), event.data
        if AudioStart.is_type(event.type):
            rate = AudioStart.from_event(event).rate
        elif AudioChunk.is_type(event.type):
            pcm += AudioChunk.from_event(event).audio
        elif AudioStop.is_type(event.type):
            return pcm, rate, seen


def rms(pcm: bytes) -> float:
    return float(np.sqrt(np.mean(np.frombuffer(pcm, dtype=np.int16).astype(np.float64) ** 2)))


async def test_describe_lists_every_service(daemon: Daemon) -> None:
    async with client(daemon) as c:
        await c.write_event(Describe().event())
        info = Info.from_event(await next_event(c))
    assert info.asr and info.asr[0].installed and info.asr[0].models[0].languages == ["en"]
    assert info.tts and info.tts[0].voices and info.tts[0].supports_synthesize_streaming
    assert {"alexa", "okay_nabu"} <= {m.name for m in info.wake[0].models}
    assert info.handle and info.handle[0].models


async def test_transcribe_any_format(
    daemon: Daemon, speech: Callable[[str], Path], tmp_path: Path
) -> None:
    # 44.1 kHz stereo: the server converts to the 16 kHz mono its engine takes.
    stereo = tmp_path / "stereo.wav"
    source = speech("what is the weather like today")
    sox = ["sox", str(source), "-r", "44100", "-c", "2", str(stereo)]
    await asyncio.to_thread(subprocess.run, sox, check=True)
    async with client(daemon) as c:
        await c.write_event(Transcribe(language="en").event())
        await send_audio(c, stereo)
        transcript = Transcript.from_event(await next_event(c))
    assert "weather" in transcript.text.lower()
    assert transcript.language == "en"


async def test_synthesize_whole_and_streamed(daemon: Daemon) -> None:
    async with client(daemon) as c:
        await c.write_event(Synthesize(text="Hello from the kitchen speaker.").event())
        pcm, rate, _ = await read_speech(c)
    assert rate > 0 and len(pcm) > rate * 2 * 0.5  # over half a second of speech
    assert rms(pcm) > 300

    async with client(daemon) as c:
        await c.write_event(SynthesizeStart().event())
        for piece in ("Good morning. ", "The kettle ", "is on."):
            await c.write_event(SynthesizeChunk(text=piece).event())
        # Streaming clients repeat the whole text for servers that do not stream: ignored.
        await c.write_event(Synthesize(text="Good morning. The kettle is on.").event())
        await c.write_event(SynthesizeStop().event())
        pcm, _rate, seen = await read_speech(c)
        assert (await next_event(c)).type == "synthesize-stopped"
    assert seen.count("audio-start") == 1 and rms(pcm) > 300


async def test_detect_wake_word_and_not_ordinary_speech(
    daemon: Daemon, speech: Callable[[str], Path]
) -> None:
    async with client(daemon) as c:
        await c.write_event(Detect(names=["alexa"]).event())
        await send_audio(c, speech("alexa"))
        event = await next_event(c)
        assert Detection.is_type(event.type), event
        assert Detection.from_event(event).name == "alexa"

    async with client(daemon) as c:
        await c.write_event(Detect(names=["alexa"]).event())
        await send_audio(c, speech("what is the weather like today"))
        event = await next_event(c)
        assert NotDetected.is_type(event.type), event


async def test_handle_answers_with_a_local_intent(daemon: Daemon) -> None:
    async with client(daemon) as c:
        context = {"conversation_id": "ha-1"}
        await c.write_event(Transcript(text="What time is it?", context=context).event())
        event = await next_event(c)
    assert Handled.is_type(event.type), event
    handled = Handled.from_event(event)
    assert handled.text and handled.text.startswith("It is")
    assert handled.context == {"conversation_id": "ha-1"}


async def test_handle_answers_with_the_llm_when_no_intent_matches(daemon: Daemon) -> None:
    async with client(daemon) as c:
        await c.write_event(Transcript(text="Name a fruit that is yellow.").event())
        event = await next_event(c)
    assert Handled.is_type(event.type), event
    handled = Handled.from_event(event)
    assert handled.text and handled.text.strip()
    assert handled.context and handled.context["conversation_id"]  # one was made for it


async def test_zeroconf_announcement_is_seen_on_loopback(daemon: Daemon) -> None:
    from zeroconf import IPVersion, ServiceStateChange
    from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

    found: asyncio.Queue[str] = asyncio.Queue()

    def on_change(
        zeroconf: object, service_type: str, name: str, state_change: ServiceStateChange
    ) -> None:
        if state_change is ServiceStateChange.Added:
            found.put_nowait(name)

    aiozc = AsyncZeroconf(interfaces=["127.0.0.1"], ip_version=IPVersion.V4Only)
    browser = AsyncServiceBrowser(aiozc.zeroconf, "_wyoming._tcp.local.", handlers=[on_change])
    try:
        while (name := await asyncio.wait_for(found.get(), 30)) != (
            "test-device._wyoming._tcp.local."
        ):
            pass
        info = AsyncServiceInfo("_wyoming._tcp.local.", name)
        assert await info.async_request(aiozc.zeroconf, 5000)
        assert info.port == daemon.wyoming.port
        assert info.parsed_addresses() == ["127.0.0.1"]
    finally:
        await browser.async_cancel()
        await aiozc.async_close()


async def test_bad_input_gets_errors_and_the_server_keeps_serving(daemon: Daemon) -> None:
    port = daemon.wyoming.port
    # Garbage, then wrong events: an error each, and the same connection still answers.
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    c = AsyncTcpClient("127.0.0.1", port, read_timeout=READ_SECS)
    c._reader, c._writer = reader, writer
    writer.write(b"\x00\xffthis is not json\n")
    assert Error.from_event(await next_event(c)).code == "bad-json"
    await c.write_event(AudioChunk(rate=16000, width=2, channels=1, audio=b"\0" * 320).event())
    assert Error.from_event(await next_event(c)).code == "no-audio-start"
    await c.write_event(Event(type="detection"))
    assert Error.from_event(await next_event(c)).code == "wrong-direction"
    await c.write_event(Describe().event())
    assert Info.is_type((await next_event(c)).type)

    # A payload far over the limit: an error, and that connection is closed.
    writer.write(b'{"type": "audio-chunk", "payload_length": 999999999999}\n')
    assert Error.from_event(await next_event(c)).code == "too-large"
    assert await c.read_event() is None
    await c.disconnect()

    # A request that cannot be served: an error, and the connection closes (Home
    # Assistant waits for an answer or the end of the connection, never for `error`).
    async with client(daemon) as c3:
        await c3.write_event(Detect(names=["hey_nobody"]).event())
        error = Error.from_event(await next_event(c3))
        assert error.code == "unknown-wake-word" and "alexa" in error.text
        assert await c3.read_event() is None

    # A client that vanishes mid-stream.
    async with client(daemon) as gone:
        await gone.write_event(Transcribe().event())
        await gone.write_event(AudioStart(rate=16000, width=2, channels=1).event())
        await gone.write_event(
            AudioChunk(rate=16000, width=2, channels=1, audio=b"\1" * 3200).event()
        )

    async with client(daemon) as c2:
        await c2.write_event(Describe().event())
        assert Info.is_type((await next_event(c2)).type)

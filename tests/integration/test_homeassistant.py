"""The device as Home Assistant's voice satellite, driven by the client library Home
Assistant itself uses (aioesphomeapi's APIClient) against the real daemon, whose
microphone is an espeak-ng WAV (the file audio backend) and whose speaker is a WAV."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from aioesphomeapi import (
    APIClient,
    MediaPlayerState,
    VoiceAssistantEventType,
    VoiceAssistantTimerEventType,
)
from aiohttp import web

from rtvi_edge import events as ev
from rtvi_edge.audio.wav import read_wav, write_wav
from rtvi_edge.daemon import Daemon
from rtvi_edge.homeassistant.media import pcm_from_wav
from tests.integration.daemon_harness import daemon_with_broker, running_daemon

pytestmark = pytest.mark.integration
E = VoiceAssistantEventType
LEAD_SECS = 4.0  # silence before the wake word: time for the client to connect and subscribe


@asynccontextmanager
async def media_server(
    files: dict[str, bytes], agents: list[str] | None = None
) -> AsyncIterator[str]:
    """Home Assistant's media side (tts_proxy): serves WAVs on 127.0.0.1; `agents` gets
    each request's User-Agent (who fetched it)."""

    async def serve(request: web.Request) -> web.Response:
        if agents is not None:
            agents.append(request.headers.get("User-Agent", ""))
        body = files.get(request.match_info["name"])
        if body is None:
            raise web.HTTPNotFound()
        return web.Response(body=body, content_type="audio/x-wav")

    app = web.Application()
    app.router.add_get("/api/tts_proxy/{name}", serve)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def microphone(path: Path, *parts: Path | float) -> Path:
    """A WAV the daemon hears as its microphone: silence, then clips and pauses (secs)."""
    pcm = bytes(int(LEAD_SECS * 16000) * 2)
    for part in parts:
        pcm += bytes(int(part * 16000) * 2) if isinstance(part, float) else read_wav(part, 16000)
    write_wav(path, pcm, 16000)
    return path


def played(path: Path) -> np.ndarray:
    """What the daemon's speaker has played so far (22,050 Hz)."""
    if not path.exists() or path.stat().st_size <= 44:
        return np.zeros(0, np.int16)
    return np.frombuffer(pcm_from_wav(path.read_bytes(), 22050), np.int16)


def rms(audio: np.ndarray) -> float:
    return float(np.sqrt(np.mean(audio.astype(np.float64) ** 2))) if len(audio) else 0.0


async def grows(path: Path, start: int, secs: float, timeout: float = 30) -> np.ndarray:
    """Waits until the speaker has played `secs` more audio than at `start`; returns it."""
    async with asyncio.timeout(timeout):
        while len(audio := played(path)) - start < secs * 22050:
            await asyncio.sleep(0.1)
    return audio[start:]


class FakeHomeAssistant:
    """The Home Assistant side of the voice assistant, as its ESPHome integration does it."""

    def __init__(self, client: APIClient) -> None:
        self.client = client
        self.starts: asyncio.Queue[str | None] = asyncio.Queue()
        self.audio = bytearray()
        self.stops: list[bool] = []
        self.finished: asyncio.Queue[bool] = asyncio.Queue()

    def subscribe(self) -> None:
        self.client.subscribe_voice_assistant(
            handle_start=self.handle_start,
            handle_stop=self.handle_stop,
            handle_audio=self.handle_audio,
            handle_announcement_finished=self.handle_finished,
        )

    async def handle_start(self, conv: str, flags: int, settings: Any, phrase: str | None) -> int:
        self.audio.clear()
        await self.starts.put(phrase)
        return 0  # audio over the API

    async def handle_stop(self, abort: bool) -> None:
        self.stops.append(abort)

    async def handle_audio(self, data: bytes, data2: bytes | None) -> None:
        self.audio += data

    async def handle_finished(self, msg: Any) -> None:
        await self.finished.put(msg.success)

    def event(self, kind: VoiceAssistantEventType, **data: str) -> None:
        self.client.send_voice_assistant_event(kind, data)

    async def heard(self, secs: float, timeout: float = 30) -> bytes:
        async with asyncio.timeout(timeout):
            while len(self.audio) < secs * 32000:
                await asyncio.sleep(0.05)
        return bytes(self.audio)


async def connect(daemon: Daemon) -> APIClient:
    client = APIClient("127.0.0.1", daemon.homeassistant.port, None)
    await client.connect(login=True)
    return client


def transcribe(daemon: Daemon, pcm: bytes) -> str:
    assert daemon.hub is not None
    stream = daemon.hub.engines.stt.open_stream()
    stream.feed(pcm)
    return str(stream.finish()).lower()


async def test_satellite_streams_the_turn_after_the_wake_word_and_plays_what_ha_sends(
    tmp_path: Path, speech: Callable[[str], Path]
) -> None:
    mic = microphone(
        tmp_path / "mic.wav",
        speech("Alexa"),
        0.5,
        speech("Turn off the kitchen light"),
        7.0,
        speech("Alexa"),  # while HA's long answer plays: a barge-in
        0.5,
        speech("What time is it?"),
    )
    out = tmp_path / "speaker.wav"
    long_answer = speech("The kitchen light is off, and so is the hall light. " * 4).read_bytes()
    files = {"long.wav": long_answer, "short.wav": speech("It is noon.").read_bytes()}
    async with (
        media_server(files) as base,
        running_daemon(
            tmp_path / "state",
            audio={"backend": "file", "input_file": str(mic), "output_file": str(out)},
            wake={"mode": "wake_word", "model": "alexa"},
            homeassistant={
                "satellite": True,
                "host": "127.0.0.1",
                "port": 0,
                "zeroconf": False,
                "pipeline": "homeassistant",
                "base_url": base,
                "timer_ring_secs": 1.0,
                "max_listen_secs": 8.0,
            },
        ) as daemon,
    ):
        client = await connect(daemon)
        info = await client.device_info()
        assert info.voice_assistant_feature_flags_compat(client.api_version) == 0b111101
        entities, _ = await client.list_entities_services()
        assert {e.object_id for e in entities} == {"media_player", "mute"}
        config = await client.get_voice_assistant_configuration(5)
        assert config.active_wake_words == ["alexa"]
        assert {w.id for w in config.available_wake_words} >= {"alexa", "okay_nabu", "hey_jarvis"}
        states: list[Any] = []
        client.subscribe_states(states.append)
        ha = FakeHomeAssistant(client)
        ha.subscribe()

        # the wake word, heard on the device, starts HA's pipeline; the turn is streamed
        async with asyncio.timeout(60):
            phrase = await ha.starts.get()
        assert phrase is not None and "alexa" in phrase.lower()
        ha.event(E.VOICE_ASSISTANT_RUN_START)
        ha.event(E.VOICE_ASSISTANT_STT_START)
        heard = await ha.heard(5.0)
        ha.event(E.VOICE_ASSISTANT_STT_VAD_END)
        ha.event(E.VOICE_ASSISTANT_STT_END, text="turn off the kitchen light")
        ha.event(E.VOICE_ASSISTANT_INTENT_END, conversation_id="c1", continue_conversation="0")
        ha.event(E.VOICE_ASSISTANT_TTS_START, text="The kitchen light is off.")
        before = len(played(out))
        ha.event(E.VOICE_ASSISTANT_TTS_END, url="/api/tts_proxy/long.wav")
        ha.event(E.VOICE_ASSISTANT_RUN_END)
        assert "kitchen" in await asyncio.to_thread(transcribe, daemon, heard)

        # the wake word again while the answer plays: it stops, and a new turn starts
        async with asyncio.timeout(60):
            phrase = await ha.starts.get()
        assert phrase is not None and "alexa" in phrase.lower()
        ha.event(E.VOICE_ASSISTANT_RUN_START)
        assert True in ha.stops  # the old run was aborted in HA
        assert ha.finished.empty()  # and its answer was not played to the end
        cut = played(out)[before:]
        assert rms(cut) > 300
        assert len(cut) < 0.9 * len(pcm_from_wav(long_answer, 22050))
        heard = await ha.heard(5.0)
        ha.event(E.VOICE_ASSISTANT_STT_VAD_END)
        before = len(played(out))
        ha.event(E.VOICE_ASSISTANT_TTS_END, url="/api/tts_proxy/short.wav")
        ha.event(E.VOICE_ASSISTANT_RUN_END)
        assert "time" in await asyncio.to_thread(transcribe, daemon, heard)
        async with asyncio.timeout(30):
            assert await ha.finished.get() is True  # the device says the answer was heard
        answer_played = played(out)[before:]
        assert len(answer_played) > 0.5 * 22050 and rms(answer_played) > 300

        # an announcement
        before = len(played(out))
        done = await client.send_voice_assistant_announcement_await_response(
            f"{base}/api/tts_proxy/short.wav", 30, "It is noon."
        )
        assert done.success
        assert rms(played(out)[before:]) > 300
        await ha.finished.get()

        # start_conversation: after the announcement the device listens without a wake word
        await client.send_voice_assistant_announcement_await_response(
            "/api/tts_proxy/short.wav", 30, "Anything else?", start_conversation=True
        )
        async with asyncio.timeout(30):
            assert await ha.starts.get() is None
        ha.event(E.VOICE_ASSISTANT_RUN_START)
        await ha.heard(0.5)
        ha.event(E.VOICE_ASSISTANT_STT_VAD_END)
        ha.event(E.VOICE_ASSISTANT_RUN_END)

        # a timer set through HA rings on the device
        before = len(played(out))
        client.send_voice_assistant_timer_event(
            VoiceAssistantTimerEventType.VOICE_ASSISTANT_TIMER_FINISHED, "t1", "pasta", 60, 0, False
        )
        assert rms(await grows(out, before, 0.5)) > 300

        # the media player, the mute switch and the wake-word select
        before = len(played(out))
        client.media_player_command(1, media_url=f"{base}/api/tts_proxy/short.wav")
        assert rms(await grows(out, before, 0.5)) > 300
        client.switch_command(2, True)
        await client.set_voice_assistant_configuration(["hey_jarvis"])
        async with asyncio.timeout(10):
            while not (daemon.local and daemon.local.settings.muted):
                await asyncio.sleep(0.05)
        config = await client.get_voice_assistant_configuration(5)
        assert config.active_wake_words == ["hey_jarvis"]
        assert daemon.local.hands_free.wake_detector is not None
        assert "jarvis" in daemon.local.hands_free.wake_detector.name.lower()
        assert (daemon.state_dir / "homeassistant-wake-word").read_text().strip() == "hey_jarvis"
        async with asyncio.timeout(30):
            while [s.state for s in states if s.key == 1][-1] != MediaPlayerState.IDLE:
                await asyncio.sleep(0.05)
        assert MediaPlayerState.PLAYING in [s.state for s in states if s.key == 1]
        assert [s.state for s in states if s.key == 2][-1] is True
        daemon.local.set_muted(False)  # as MQTT or RTVI would: HA's switch follows
        async with asyncio.timeout(10):
            while [s.state for s in states if s.key == 2][-1] is not False:
                await asyncio.sleep(0.05)
        await client.disconnect()


async def test_local_first_answers_its_intents_and_hands_the_rest_to_ha_with_the_audio(
    tmp_path: Path, speech: Callable[[str], Path]
) -> None:
    # "what time is it" never leaves the device; "turn off the kitchen light" (no such
    # device on it) reaches HA with the audio already heard: the user says it once.
    mic = microphone(
        tmp_path / "mic.wav",
        speech("What time is it?"),
        5.0,
        speech("Turn off the kitchen light"),
    )
    out = tmp_path / "speaker.wav"
    async with (
        media_server({"answer.wav": speech("Done.").read_bytes()}) as base,
        running_daemon(
            tmp_path / "state",
            audio={"backend": "file", "input_file": str(mic), "output_file": str(out)},
            homeassistant={
                "satellite": True,
                "host": "127.0.0.1",
                "port": 0,
                "zeroconf": False,
                "pipeline": "local-first",
                "base_url": base,
            },
        ) as daemon,
    ):
        sub = daemon.bus.subscribe()
        client = await connect(daemon)
        ha = FakeHomeAssistant(client)
        ha.subscribe()
        async with asyncio.timeout(90):
            assert await ha.starts.get() is None  # no wake word: the device's own turn
            while not ha.stops:  # the audio heard, then its end (not an abort)
                await asyncio.sleep(0.05)
        assert ha.stops == [False]
        heard = await asyncio.to_thread(transcribe, daemon, bytes(ha.audio))
        assert "kitchen" in heard and "time" not in heard
        ha.event(E.VOICE_ASSISTANT_RUN_START)
        ha.event(E.VOICE_ASSISTANT_TTS_START, text="Done.")
        ha.event(E.VOICE_ASSISTANT_TTS_END, url="/api/tts_proxy/answer.wav")
        ha.event(E.VOICE_ASSISTANT_RUN_END)
        async with asyncio.timeout(30):
            assert await ha.finished.get() is True
        said = []
        while not sub.queue.empty():
            event = sub.queue.get_nowait()
            if isinstance(event, ev.BotOutput) and not event.spoken:
                said.append(event.text)
        assert any(s.startswith("It is") for s in said), said  # the local intent answered
        assert said[-1] == "Done."  # then HA did
        assert ha.starts.empty()  # only one turn went to HA
        await client.disconnect()


async def test_with_mqtt_too_home_assistant_sees_one_device(tmp_path: Path) -> None:
    satellite = {"satellite": True, "host": "127.0.0.1", "port": 0, "zeroconf": False}
    async with daemon_with_broker(tmp_path, homeassistant=satellite) as (daemon, _b, watcher):
        client = await connect(daemon)
        info = await client.device_info()
        await client.disconnect()
        node = "homeassistant/{}/rtvi_edge_test-device/{}/config"
        sensor = await watcher.wait(node.format("sensor", "last_transcript"))
        device = json.loads(sensor.payload)["device"]
        # the MAC the ESPHome integration files the device under: HA merges the two
        assert device["connections"] == [["mac", info.mac_address.lower()]]
        for component, entity in [("switch", "mute"), ("number", "volume")]:
            await watcher.wait(node.format(component, entity), lambda p: p == "")

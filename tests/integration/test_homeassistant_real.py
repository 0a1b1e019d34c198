"""A real Home Assistant (its ESPHome, Wyoming and Assist integrations, as shipped)
finds the device, adds it — asking for the encryption key when the device has one —
and drives it: what HA shows is read from its APIs, what the device plays from its
speaker's WAV. HA runs in its own process from .ha-venv (scripts/setup-home-assistant;
see ha_instance.py); without one these tests skip and say why (under CI they fail).
The aioesphomeapi tests (test_homeassistant.py, test_homeassistant_api.py) do not need it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from rtvi_edge import events as ev
from rtvi_edge.audio import local as local_audio
from rtvi_edge.audio.wav import read_wav
from tests.integration.daemon_harness import running_daemon
from tests.integration.ha_instance import (
    HomeAssistantApi,
    HomeAssistantProcess,
    require_home_assistant,
)
from tests.integration.test_homeassistant import media_server, microphone, played, rms

pytestmark = pytest.mark.integration
KEY = "px7tsbK3C7bpXHr2OevEV2ZMg/FrNBw2+O2pNPbedtA="
WRONG_KEY = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
SPEAKER_RATE = 22050


@pytest.fixture(scope="module")
def home_assistant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HomeAssistantProcess]:
    ha = HomeAssistantProcess(require_home_assistant(), tmp_path_factory.mktemp("ha-config"))
    try:
        ha.start()
        yield ha
    finally:
        ha.stop()


@pytest.fixture
async def ha(home_assistant: HomeAssistantProcess) -> AsyncIterator[HomeAssistantApi]:
    async with HomeAssistantApi.connect(
        home_assistant.url, home_assistant.token, home_assistant.log_tail
    ) as api:
        try:
            yield api
        finally:  # each test adds its own device and pipeline; the next starts clean
            for domain in ("esphome", "wyoming"):
                await api.remove_entries(domain)
            for pipeline in (await api.call("assist_pipeline/pipeline/list"))["pipelines"]:
                if pipeline["name"].startswith("rtvi-edge"):
                    await api.call("assist_pipeline/pipeline/delete", pipeline_id=pipeline["id"])


class ScriptedMic:
    """The device's microphone (replaces the file backend's source): silence in real
    time, and what a test says into it."""

    made: ClassVar[list[ScriptedMic]] = []

    def __init__(self, path: Path, frame_ms: int, realtime: bool = True) -> None:
        self._frame = int(16000 * frame_ms / 1000) * 2
        self._pending = bytearray()
        self._closed = False
        ScriptedMic.made.append(self)

    async def frames(self) -> AsyncIterator[bytes]:
        due = time.monotonic()
        while not self._closed:
            frame = bytes(self._pending[: self._frame]).ljust(self._frame, b"\0")
            del self._pending[: self._frame]
            due += self._frame / 32000
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            yield frame

    def say(self, wav: Path, tail_secs: float = 0.5) -> None:
        self._pending += read_wav(wav, 16000) + bytes(int(tail_secs * 16000) * 2)

    def close(self) -> None:
        self._closed = True


@pytest.fixture
def mic(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], ScriptedMic]]:
    ScriptedMic.made.clear()
    monkeypatch.setattr(local_audio, "FileSource", ScriptedMic)
    yield lambda: ScriptedMic.made[-1]


def device(tmp_path: Path, mac: str, **homeassistant: Any) -> Any:
    """The daemon as a satellite on 127.0.0.1; its speaker is tmp_path/speaker.wav."""
    options = {"satellite": True, "host": "127.0.0.1", "port": 0, "zeroconf": False, "mac": mac}
    wyoming = homeassistant.pop("wyoming", None)
    return running_daemon(
        tmp_path / "state",
        audio={
            "backend": "file",
            "input_file": str(microphone(tmp_path / "mic.wav")),
            "output_file": str(tmp_path / "speaker.wav"),
        },
        wake={"mode": "wake_word", "model": "alexa"},
        homeassistant={**options, **homeassistant},
        **({"wyoming": wyoming} if wyoming else {}),
    )


async def plays(ha: HomeAssistantApi, speaker: Path, since: int, secs: float = 0.5) -> int:
    """Waits until the device's speaker played `secs` of sound after sample `since`, then
    until it stops (nothing more for 0.6 s); returns how many samples it played in all."""

    def sound() -> bool:
        new = played(speaker)[since:]
        return len(new) > secs * SPEAKER_RATE and rms(new) > 300

    await ha.wait_for(f"{secs} s of sound on the device", sound, 90)
    last, still = len(played(speaker)), 0
    async with asyncio.timeout(120):
        while still < 3:
            await asyncio.sleep(0.2)
            now = len(played(speaker))
            still, last = (still + 1 if now == last else 0), now
    return last


async def satellite_of(ha: HomeAssistantApi, mac: str) -> str:
    async def available() -> str | None:
        ids = await ha.entities_of("assist_satellite", mac)
        states = await ha.states()
        return next((e for e in ids if states.get(e, {}).get("state") == "idle"), None)

    sat: str = await ha.wait_for("the device's assist_satellite, idle", available, 60)
    return sat


# -- adding the device ---------------------------------------------------------------------
async def test_an_encrypted_device_is_discovered_and_added_with_its_key(
    ha: HomeAssistantApi, tmp_path: Path, mic: Any
) -> None:
    mac = "02:00:00:00:27:01"
    async with device(tmp_path, mac, encryption_key=KEY, zeroconf=True) as daemon:
        # HA sees the _esphomelib._tcp announcement (on 127.0.0.1) and offers the device
        async def discovered() -> dict[str, Any] | None:
            flows = await ha.call("config_entries/flow/progress")
            return next(
                (
                    f
                    for f in flows
                    if f["handler"] == "esphome"
                    and f["context"].get("source") == "zeroconf"
                    and f["context"].get("unique_id") == mac
                ),
                None,
            )

        flow = await ha.wait_for("zeroconf discovery of the device", discovered, 60)
        assert flow["step_id"] == "discovery_confirm"
        assert (
            flow["context"]["title_placeholders"]["name"]
            == daemon.homeassistant.identity.friendly_name
        )
        # "Add": the announcement says it is encrypted, so HA asks for the key
        step = await ha.flow_step(flow["flow_id"], {})
        assert (step["type"], step["step_id"]) == ("form", "encryption_key")
        step = await ha.flow_step(flow["flow_id"], {"noise_psk": WRONG_KEY})
        assert step["step_id"] == "encryption_key" and step["errors"] == {"base": "invalid_psk"}
        step = await ha.flow_step(flow["flow_id"], {"noise_psk": KEY})
        assert step["type"] == "create_entry", step
        await satellite_of(ha, mac)  # HA connected over the encrypted API


async def test_an_encrypted_device_added_by_hand_asks_for_its_key(
    ha: HomeAssistantApi, tmp_path: Path, mic: Any
) -> None:
    # The defect of issue 27: HA said "Can't connect" instead of asking for the key.
    mac = "02:00:00:00:27:02"
    async with device(tmp_path, mac, encryption_key=KEY) as daemon:
        flow = await ha.flow("esphome")
        assert flow["step_id"] == "user"
        step = await ha.flow_step(
            flow["flow_id"], {"host": "127.0.0.1", "port": daemon.homeassistant.port}
        )
        assert (step["type"], step["step_id"]) == ("form", "encryption_key"), step
        # HA learnt the device's name from the handshake's hello (a zero key, refused)
        assert step["description_placeholders"]["name"] == daemon.homeassistant.identity.name
        step = await ha.flow_step(flow["flow_id"], {"noise_psk": WRONG_KEY})
        assert step["errors"] == {"base": "invalid_psk"}
        step = await ha.flow_step(flow["flow_id"], {"noise_psk": KEY})
        assert step["type"] == "create_entry", step
        await satellite_of(ha, mac)


# -- driving it ----------------------------------------------------------------------------
async def test_home_assistant_drives_the_satellite_end_to_end(
    ha: HomeAssistantApi,
    tmp_path: Path,
    mic: Callable[[], ScriptedMic],
    speech: Callable[[str], Path],
) -> None:
    mac = "02:00:00:00:27:03"
    speaker = tmp_path / "speaker.wav"
    chime = {"dinner.wav": speech("Dinner is ready.").read_bytes()}
    wyoming = {"enabled": True, "host": "127.0.0.1", "port": 0, "zeroconf": False}
    async with (
        media_server(chime) as media,
        device(
            tmp_path, mac, pipeline="homeassistant", timer_ring_secs=1.0, wyoming=wyoming
        ) as daemon,
    ):
        assert daemon.local is not None
        sub = daemon.bus.subscribe()
        # added by hand, plaintext: no key step
        flow = await ha.flow("esphome")
        step = await ha.flow_step(
            flow["flow_id"], {"host": "127.0.0.1", "port": daemon.homeassistant.port}
        )
        assert step["type"] == "create_entry", step
        sat = await satellite_of(ha, mac)
        states = await ha.states()
        assert states[sat]["attributes"]["supported_features"] == 3  # announce, start_conversation
        kinds = {e.split(".")[0] for e in await ha.entities_of("", mac)}
        assert {"assist_satellite", "media_player", "switch", "select"} <= kinds

        # HA's speech-to-text and text-to-speech: the device's own, over Wyoming
        engines = await add_wyoming(ha, daemon.wyoming.port)
        pipeline = await use_pipeline(ha, mac, "conversation.home_assistant", engines)

        # announce: a text (HA's TTS), then a media URL (converted by HA's ffmpeg)
        start = len(played(speaker))
        await ha.service(
            "assist_satellite",
            "announce",
            entity_id=sat,
            message="The laundry is done.",
            preannounce=False,
        )
        start = await plays(ha, speaker, start, 1.0)
        await ha.service(
            "assist_satellite",
            "announce",
            entity_id=sat,
            media_id=f"{media}/api/tts_proxy/dinner.wav",
            preannounce=False,
        )
        start = await plays(ha, speaker, start, 0.7)

        # play_media on the device's media player
        (player,) = await ha.entities_of("media_player", mac)
        await ha.service(
            "media_player",
            "play_media",
            entity_id=player,
            media_content_id=f"{media}/api/tts_proxy/dinner.wav",
            media_content_type="music",
        )
        await plays(ha, speaker, start, 0.7)

        # a spoken turn: wake word on the device → HA's STT → HA's intent → TTS, played
        await spoken_turn(
            ha,
            mic(),
            speaker,
            speech,
            pipeline["id"],
            "What time is it?",
            expect_engine="conversation.home_assistant",
        )

        # a timer set by voice through HA rings on the device
        start = len(played(speaker))
        await spoken_turn(
            ha,
            mic(),
            speaker,
            speech,
            pipeline["id"],
            "Set a timer for 2 seconds.",
            expect_engine="conversation.home_assistant",
        )

        def fired() -> bool:
            return any(isinstance(e, ev.TimerEvent) and e.action == "fired" for e in drain(sub))

        await ha.wait_for("the timer to fire on the device", fired, 60)

        # start_conversation, answered by the device's own agent over Wyoming
        await ha.call(
            "assist_pipeline/pipeline/update",
            pipeline_id=pipeline["id"],
            **pipeline_fields(pipeline["name"], engines["conversation"], engines),
        )
        before = await runs(ha, pipeline["id"])
        start = len(played(speaker))
        ask = asyncio.create_task(
            ha.service(
                "assist_satellite",
                "start_conversation",
                entity_id=sat,
                start_message="What do you want to know?",
                preannounce=False,
            )
        )
        await plays(ha, speaker, start, 0.7)  # the question
        await ha.wait_for("the device to listen", lambda: state_is(ha, sat, "listening"), 60)
        mic().say(speech("What time is it?"))
        run = await finished_run(ha, pipeline["id"], before)
        assert run["intent-start"]["engine"] == engines["conversation"]
        assert run_speech(run)
        await plays(ha, speaker, start, 0.5)  # its answer
        await ask

        # the device's own entities, set in HA
        switch = next(s for s in await ha.entities_of("switch", mac) if "mute" in s)
        await ha.service("switch", "turn_on", entity_id=switch)
        await ha.service("media_player", "volume_set", entity_id=player, volume_level=0.4)
        selects = await ha.entities_of("select", mac)
        states = await ha.states()
        wake = next(s for s in selects if "Alexa" in states[s]["attributes"].get("options", []))
        jarvis = next(o for o in states[wake]["attributes"]["options"] if "jarvis" in o.lower())
        await ha.service("select", "select_option", entity_id=wake, option=jarvis)
        local = daemon.local
        await ha.wait_for(
            "mute, volume and wake word on the device",
            lambda: (
                local.settings.muted
                and abs(local.settings.volume - 0.4) < 0.01
                and local.hands_free.wake_detector is not None
                and "jarvis" in local.hands_free.wake_detector.name.lower()
            ),
            30,
        )
        devices = await ha.call("config/device_registry/list")
        assert any(["mac", mac] in d["connections"] for d in devices)


async def test_home_assistant_takes_a_turn_handed_over_in_local_first(
    ha: HomeAssistantApi,
    tmp_path: Path,
    mic: Callable[[], ScriptedMic],
    speech: Callable[[str], Path],
) -> None:
    # local-first: "turn off the kitchen light" is no local intent, so the audio already
    # heard goes to HA's pipeline (its STT: the device's, over Wyoming), whose intent
    # answers (no such light here: HA says so) and the answer plays on the device.
    mac = "02:00:00:00:27:04"
    speaker = tmp_path / "speaker.wav"
    wyoming = {"enabled": True, "host": "127.0.0.1", "port": 0, "zeroconf": False}
    async with device(tmp_path, mac, pipeline="local-first", wyoming=wyoming) as daemon:
        flow = await ha.flow("esphome")
        step = await ha.flow_step(
            flow["flow_id"], {"host": "127.0.0.1", "port": daemon.homeassistant.port}
        )
        assert step["type"] == "create_entry", step
        await satellite_of(ha, mac)
        engines = await add_wyoming(ha, daemon.wyoming.port)
        pipeline = await use_pipeline(ha, mac, "conversation.home_assistant", engines)
        before = await runs(ha, pipeline["id"])
        start = len(played(speaker))
        mic().say(speech("Alexa"), 0.3)
        mic().say(speech("Turn off the kitchen light."))
        run = await finished_run(ha, pipeline["id"], before)
        assert "kitchen" in run["stt-end"]["stt_output"]["text"].lower()
        assert run_speech(run)
        await plays(ha, speaker, start, 0.5)


# -- helpers -------------------------------------------------------------------------------
def drain(sub: ev.Subscription) -> list[ev.Event]:
    out = []
    while not sub.queue.empty():
        out.append(sub.queue.get_nowait())
    return out


async def state_is(ha: HomeAssistantApi, entity: str, state: str) -> bool:
    return (await ha.states()).get(entity, {}).get("state") == state


async def add_wyoming(ha: HomeAssistantApi, port: int) -> dict[str, str]:
    """Adds the device's Wyoming services; {"stt"|"tts"|"conversation": its entity}."""
    flow = await ha.flow("wyoming")
    step = await ha.flow_step(flow["flow_id"], {"host": "127.0.0.1", "port": port})
    assert step["type"] == "create_entry", step
    entry_id = step["result"]["entry_id"]

    async def entities() -> dict[str, str] | None:
        ids = [
            e["entity_id"]
            for e in await ha.call("config/entity_registry/list")
            if e["config_entry_id"] == entry_id
        ]
        found = {
            d: next((e for e in ids if e.startswith(f"{d}.")), "")
            for d in ("stt", "tts", "conversation")
        }
        return found if all(found.values()) else None

    found: dict[str, str] = await ha.wait_for("the Wyoming entities", entities, 60)
    return found


async def use_pipeline(
    ha: HomeAssistantApi, mac: str, agent: str, engines: dict[str, str]
) -> dict[str, Any]:
    """A new Assist pipeline (the device's STT and TTS, `agent` answers), chosen in the
    device's "Assistant" select."""
    name = f"rtvi-edge {mac[-2:]}"
    pipeline: dict[str, Any] = await ha.call(
        "assist_pipeline/pipeline/create", **pipeline_fields(name, agent, engines)
    )
    states = await ha.states()
    choose = next(
        s
        for s in await ha.entities_of("select", mac)
        if name in states[s]["attributes"].get("options", [])
    )
    await ha.service("select", "select_option", entity_id=choose, option=name)
    return pipeline


def pipeline_fields(name: str, agent: str, engines: dict[str, str]) -> dict[str, Any]:
    return {
        "name": name,
        "language": "en",
        "conversation_engine": agent,
        "conversation_language": "en",
        "stt_engine": engines["stt"],
        "stt_language": "en",
        "tts_engine": engines["tts"],
        "tts_language": "en",
        "tts_voice": None,
        "wake_word_entity": None,
        "wake_word_id": None,
    }


async def runs(ha: HomeAssistantApi, pipeline_id: str) -> set[str]:
    try:
        listed = await ha.call("assist_pipeline/pipeline_debug/list", pipeline_id=pipeline_id)
    except Exception:  # no run yet: HA answers "not_found"
        return set()
    return {r["pipeline_run_id"] for r in listed["pipeline_runs"]}


async def finished_run(ha: HomeAssistantApi, pipeline_id: str, before: set[str]) -> dict[str, Any]:
    """The first new run of the pipeline, once it ended: {event type: its data}."""

    async def ended() -> dict[str, Any] | None:
        for run_id in sorted(await runs(ha, pipeline_id) - before):
            got = await ha.call(
                "assist_pipeline/pipeline_debug/get",
                pipeline_id=pipeline_id,
                pipeline_run_id=run_id,
            )
            events = {e["type"]: e.get("data") or {} for e in got["events"]}
            assert "error" not in events, events
            if "run-end" in events:
                return events
        return None

    run: dict[str, Any] = await ha.wait_for("an Assist pipeline run to end", ended, 120, 0.5)
    return run


def run_speech(run: dict[str, Any]) -> str:
    response = run["intent-end"]["intent_output"]["response"]
    assert (
        response["response_type"] != "error" or response["data"].get("code") == "no_valid_targets"
    ), response
    speech: str = response["speech"]["plain"]["speech"]
    return speech


async def spoken_turn(
    ha: HomeAssistantApi,
    mic: ScriptedMic,
    speaker: Path,
    speech: Callable[[str], Path],
    pipeline_id: str,
    text: str,
    expect_engine: str,
) -> dict[str, Any]:
    before = await runs(ha, pipeline_id)
    start = len(played(speaker))
    mic.say(speech("Alexa"), 0.3)
    mic.say(speech(text))
    run = await finished_run(ha, pipeline_id, before)
    heard = run["stt-end"]["stt_output"]["text"].lower()
    assert all(w in heard for w in text.lower().split()[:2]), heard
    assert run["intent-start"]["engine"] == expect_engine
    assert run_speech(run)
    assert run["tts-end"]["tts_output"]["url"]
    await plays(ha, speaker, start, 0.5)  # HA's answer, on the device's speaker
    return run

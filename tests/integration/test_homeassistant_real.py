"""A real Home Assistant (its ESPHome, Wyoming and Assist integrations, as shipped)
finds the device, adds it — asking for the encryption key when the device has one —
and drives it: what HA shows is read from its APIs, what the device plays from its
speaker's WAV. HA's speech-to-text and text-to-speech here are the device's own, over
Wyoming (HA has none of its own offline). HA runs in its own process from .ha-venv
(scripts/setup-home-assistant; ha_instance.py); without one these tests skip saying why
(under CI they fail). The aioesphomeapi tests (test_homeassistant*.py) do not need it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from rtvi_edge import events as ev
from rtvi_edge.audio import local as local_audio
from tests.helpers import drain
from tests.integration.ha_api import HomeAssistantApi
from tests.integration.ha_instance import (
    HomeAssistantProcess,
    free_port,
    require_home_assistant,
)
from tests.integration.ha_satellite import (
    ScriptedMic,
    add_by_address,
    add_wyoming,
    device,
    finished_run,
    flow_in_progress,
    pipeline_fields,
    plays,
    run_speech,
    runs,
    satellite_of,
    spoken_turn,
    state_is,
    use_pipeline,
)
from tests.integration.test_homeassistant import media_server, played

pytestmark = pytest.mark.integration
KEY = "px7tsbK3C7bpXHr2OevEV2ZMg/FrNBw2+O2pNPbedtA="
WRONG_KEY = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
WYOMING = {"enabled": True, "host": "127.0.0.1", "port": 0, "zeroconf": False}
Mic = Callable[[], ScriptedMic]


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


@pytest.fixture
def mic(monkeypatch: pytest.MonkeyPatch) -> Iterator[Mic]:
    ScriptedMic.made.clear()
    monkeypatch.setattr(local_audio, "FileSource", ScriptedMic)
    yield lambda: ScriptedMic.made[-1]


# -- adding the device ---------------------------------------------------------------------
async def test_an_encrypted_device_is_discovered_and_added_with_its_key(
    ha: HomeAssistantApi, tmp_path: Path, mic: Any
) -> None:
    mac = "02:00:00:00:27:01"
    async with device(tmp_path, mac, encryption_key=KEY, zeroconf=True) as daemon:
        # HA sees the _esphomelib._tcp announcement (on 127.0.0.1) and offers the device
        flow = await flow_in_progress(ha, "zeroconf", mac)
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


async def test_home_assistant_reauthenticates_when_the_device_gains_or_drops_its_key(
    ha: HomeAssistantApi, tmp_path: Path, mic: Any
) -> None:
    # The same device (MAC, address) restarted with another [homeassistant] encryption_key:
    # HA's reconnection fails with the error real ESPHome gives, and HA asks again.
    mac, port = "02:00:00:00:27:06", free_port()
    async with device(tmp_path, mac, port=port) as daemon:
        await add_by_address(ha, daemon.homeassistant.port, mac)
    async with device(tmp_path, mac, port=port, encryption_key=KEY):
        flow = await flow_in_progress(ha, "reauth", mac, timeout=120)
        assert flow["step_id"] == "reauth_confirm"  # "enter the encryption key"
        step = await ha.flow_step(flow["flow_id"], {"noise_psk": WRONG_KEY})
        assert step["errors"] == {"base": "invalid_psk"}
        step = await ha.flow_step(flow["flow_id"], {"noise_psk": KEY})
        assert (step["type"], step["reason"]) == ("abort", "reauth_successful"), step
        await satellite_of(ha, mac)
    async with device(tmp_path, mac, port=port):
        flow = await flow_in_progress(ha, "reauth", mac, timeout=120)
        assert flow["step_id"] == "reauth_encryption_removed_confirm"
        step = await ha.flow_step(flow["flow_id"], {})
        assert (step["type"], step["reason"]) == ("abort", "reauth_successful"), step
        await satellite_of(ha, mac)


# -- driving it ----------------------------------------------------------------------------
async def test_home_assistant_announces_plays_media_and_sets_the_devices_entities(
    ha: HomeAssistantApi, tmp_path: Path, mic: Mic, speech: Callable[[str], Path]
) -> None:
    mac = "02:00:00:00:27:03"
    speaker = tmp_path / "speaker.wav"
    chime = {"dinner.wav": speech("Dinner is ready.").read_bytes()}
    fetched_by: list[str] = []
    async with (
        media_server(chime, fetched_by) as media,
        device(tmp_path, mac, wyoming=WYOMING) as daemon,
    ):
        sat = await add_by_address(ha, daemon.homeassistant.port, mac)
        states = await ha.states()
        assert states[sat]["attributes"]["supported_features"] == 3  # announce, start_conversation
        kinds = {e.split(".")[0] for e in await ha.entities_of("", mac)}
        assert {"assist_satellite", "media_player", "switch", "select"} <= kinds
        devices = await ha.call("config/device_registry/list")
        assert any(["mac", mac] in d["connections"] for d in devices)
        engines = await add_wyoming(ha, daemon.wyoming.port)
        await use_pipeline(ha, mac, "conversation.home_assistant", engines)

        # announce: a text (spoken by the pipeline's TTS), then a media URL (HA converts
        # it with ffmpeg for the device)
        start = len(played(speaker))
        await ha.service("assist_satellite", "announce", entity_id=sat,
                         message="The laundry is done.", preannounce=False)  # fmt: skip
        start = await plays(ha, speaker, start, 1.0)
        url = f"{media}/api/tts_proxy/dinner.wav"
        await ha.service("assist_satellite", "announce", entity_id=sat, media_id=url,
                         preannounce=False)  # fmt: skip
        start = await plays(ha, speaker, start, 0.7)
        assert any(a.startswith("Lavf") for a in fetched_by), fetched_by  # HA's ffmpeg
        # play_media on the device's media player
        (player,) = await ha.entities_of("media_player", mac)
        await ha.service("media_player", "play_media", entity_id=player,
                         media_content_id=url, media_content_type="music")  # fmt: skip
        await plays(ha, speaker, start, 0.7)

        # the device's own entities, set in HA
        switch = next(s for s in await ha.entities_of("switch", mac) if "mute" in s)
        await ha.service("switch", "turn_on", entity_id=switch)
        await ha.service("media_player", "volume_set", entity_id=player, volume_level=0.4)
        states = await ha.states()
        wake = next(
            s
            for s in await ha.entities_of("select", mac)
            if "Alexa" in states[s]["attributes"].get("options", [])
        )
        jarvis = next(o for o in states[wake]["attributes"]["options"] if "jarvis" in o.lower())
        await ha.service("select", "select_option", entity_id=wake, option=jarvis)
        local = daemon.local
        assert local is not None
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


async def test_spoken_turns_a_voice_timer_and_start_conversation_through_home_assistant(
    ha: HomeAssistantApi, tmp_path: Path, mic: Mic, speech: Callable[[str], Path]
) -> None:
    # [homeassistant] pipeline = "homeassistant": after the wake word, HA's pipeline
    mac = "02:00:00:00:27:04"
    speaker = tmp_path / "speaker.wav"
    options = {"pipeline": "homeassistant", "timer_ring_secs": 1.0, "wyoming": WYOMING}
    async with device(tmp_path, mac, **options) as daemon:
        sub = daemon.bus.subscribe()
        sat = await add_by_address(ha, daemon.homeassistant.port, mac)
        engines = await add_wyoming(ha, daemon.wyoming.port)
        pipeline = await use_pipeline(ha, mac, "conversation.home_assistant", engines)
        turn = (ha, mic(), speaker, speech, pipeline["id"])

        # wake word on the device → HA's STT → HA's intent → HA's TTS, played on the device
        run, _ = await spoken_turn(*turn, "What time is it?", "conversation.home_assistant")
        assert run["intent-end"]["intent_output"]["response"]["response_type"] == "action_done"

        # a timer set by voice through HA rings on the device
        await spoken_turn(*turn, "Set a timer for 5 seconds.", "conversation.home_assistant")
        rang_from: list[int] = []

        def fired() -> bool:
            if any(isinstance(e, ev.TimerEvent) and e.action == "fired" for e in drain(sub)):
                rang_from.append(len(played(speaker)))
            return bool(rang_from)

        await ha.wait_for("the timer to fire on the device", fired, 60)
        await plays(ha, speaker, rang_from[0], 0.5)  # its ring

        # start_conversation (HA's own agent refuses it): the device's agent, over Wyoming
        fields = pipeline_fields(pipeline["name"], engines["conversation"], engines)
        await ha.call("assist_pipeline/pipeline/update", pipeline_id=pipeline["id"], **fields)
        before = await runs(ha, pipeline["id"])
        start = len(played(speaker))
        ask = asyncio.create_task(
            ha.service("assist_satellite", "start_conversation", entity_id=sat,
                       start_message="What do you want to know?", preannounce=False)
        )  # fmt: skip
        start = await plays(ha, speaker, start, 0.7)  # the question
        await ha.wait_for("the device to listen", lambda: state_is(ha, sat, "listening"), 60)
        mic().say(speech("What time is it?"))
        run = await finished_run(ha, pipeline["id"], before)
        assert run["intent-start"]["engine"] == engines["conversation"]
        assert run_speech(run)
        await plays(ha, speaker, start, 0.5)  # the answer
        await ask


async def test_home_assistant_takes_a_turn_handed_over_in_local_first(
    ha: HomeAssistantApi, tmp_path: Path, mic: Mic, speech: Callable[[str], Path]
) -> None:
    # local-first: "turn off the kitchen light" is no local intent, so the audio already
    # heard goes to HA's pipeline, whose intent answers (no such light here: HA says so),
    # and the answer plays on the device.
    mac = "02:00:00:00:27:05"
    speaker = tmp_path / "speaker.wav"
    async with device(tmp_path, mac, pipeline="local-first", wyoming=WYOMING) as daemon:
        await add_by_address(ha, daemon.homeassistant.port, mac)
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

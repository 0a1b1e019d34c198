"""What the real-Home-Assistant tests (test_homeassistant_real.py) do with the device
and with HA: the device's microphone and speaker, adding it, Assist pipelines and
their runs as HA records them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, ClassVar

from rtvi_edge.audio.wav import read_wav
from tests.integration.daemon_harness import running_daemon
from tests.integration.ha_api import HomeAssistantApi
from tests.integration.test_homeassistant import microphone, played, rms

SPEAKER_RATE = 22050


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


async def add_by_address(ha: HomeAssistantApi, port: int, mac: str) -> str:
    """Adds the plaintext device by host and port (no key step); its assist_satellite."""
    flow = await ha.flow("esphome")
    step = await ha.flow_step(flow["flow_id"], {"host": "127.0.0.1", "port": port})
    assert step["type"] == "create_entry", step
    return await satellite_of(ha, mac)


async def flow_in_progress(
    ha: HomeAssistantApi, source: str, mac: str, timeout: float = 60
) -> dict[str, Any]:
    """The ESPHome flow HA started by itself (zeroconf discovery, reauth) for the device."""

    async def started() -> dict[str, Any] | None:
        for flow in await ha.call("config_entries/flow/progress"):
            context = flow["context"]
            ours = source != "zeroconf" or context.get("unique_id") == mac  # (one at a time)
            if flow["handler"] == "esphome" and context.get("source") == source and ours:
                return dict(flow)
        return None

    flow: dict[str, Any] = await ha.wait_for(f"a {source} flow for the device", started, timeout)
    return flow


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
) -> tuple[dict[str, Any], int]:
    """Wake word and `text` into the microphone; HA's run of it, once its answer played,
    and how many samples the speaker has played by then."""
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
    played_to = await plays(ha, speaker, start, 0.5)  # HA's answer, on the device's speaker
    return run, played_to

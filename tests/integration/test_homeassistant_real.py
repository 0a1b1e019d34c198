"""A real Home Assistant (its ESPHome integration, as shipped) adds the device, and its
entities drive it. Home Assistant needs Python 3.13+, so it runs in its own
interpreter: set RTVI_EDGE_HA_PYTHON to a Python with `homeassistant` and the ESPHome
integration's requirements installed (docs/homeassistant.md says how); skipped otherwise.
The aioesphomeapi tests (test_homeassistant.py) do not need it."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from rtvi_edge import events as ev
from rtvi_edge.audio.wav import read_wav
from rtvi_edge.homeassistant.satellite import RunState
from tests.integration.daemon_harness import running_daemon
from tests.integration.test_hands_free import feed_wav
from tests.integration.test_homeassistant import media_server, microphone, played, rms

pytestmark = pytest.mark.integration
HA_PYTHON = os.environ.get("RTVI_EDGE_HA_PYTHON", "")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.skipif(not HA_PYTHON, reason="RTVI_EDGE_HA_PYTHON (a Home Assistant) is not set")
async def test_real_home_assistant_adds_and_drives_the_device(
    tmp_path: Path, speech: Callable[[str], Path]
) -> None:
    mic = microphone(tmp_path / "mic.wav")  # silence: HA drives everything here
    out = tmp_path / "speaker.wav"
    announcement = {"dinner.wav": speech("Dinner is ready.").read_bytes()}
    async with (
        media_server(announcement) as base,
        running_daemon(
            tmp_path / "state",
            audio={"backend": "file", "input_file": str(mic), "output_file": str(out)},
            wake={"mode": "wake_word", "model": "alexa"},
            homeassistant={
                "satellite": True,
                "host": "127.0.0.1",
                "port": 0,
                "zeroconf": False,
                "timer_ring_secs": 1.0,
            },
        ) as daemon,
    ):
        sub = daemon.bus.subscribe()
        (tmp_path / "ha").mkdir()
        driver = Path(__file__).with_name("ha_driver.py")
        args = [str(daemon.homeassistant.port), str(tmp_path / "ha"), str(free_port())]
        if shutil.which("ffmpeg"):  # HA converts announcements with it
            args.append(f"{base}/api/tts_proxy/dinner.wav")
        proc = await asyncio.create_subprocess_exec(
            HA_PYTHON, str(driver), *args, stdout=asyncio.subprocess.PIPE
        )
        stdout, _ = await asyncio.wait_for(proc.communicate(), 300)
        lines = [x for x in stdout.decode().splitlines() if x.startswith("RESULT ")]
        assert lines, stdout.decode()[-2000:]
        seen = json.loads(lines[-1].removeprefix("RESULT "))
        assert seen["flow"].endswith("create_entry")
        kinds = {e.split(".")[0] for e in seen["states"]}
        assert {"assist_satellite", "media_player", "switch", "select"} <= kinds
        assert seen["satellite_features"] == 3  # announce and start_conversation
        assert {"Alexa", "Okay Nabu", "Hey Jarvis", "Hey Mycroft"} <= set(seen["wake_words"])
        mac = daemon.homeassistant.identity.mac
        assert ["mac", mac] in seen["device"]["connections"]
        assert daemon.local is not None and daemon.local.settings.muted
        assert abs(daemon.local.settings.volume - 0.4) < 0.01
        assert daemon.local.hands_free.wake_detector is not None
        assert "jarvis" in daemon.local.hands_free.wake_detector.name.lower()
        ring = played(out)
        assert rms(ring) > 300  # HA's timer rang on the device
        if len(args) > 3:  # and the announcement played after it (the ring is ~1 s)
            assert seen.get("announced")
            assert len(ring) > (1.0 + 0.7) * 22050, len(ring) / 22050
        fired = []
        while not sub.queue.empty():
            event = sub.queue.get_nowait()
            if isinstance(event, ev.TimerEvent) and event.action == "fired":
                fired.append(event)
        assert fired


@pytest.mark.skipif(not HA_PYTHON, reason="RTVI_EDGE_HA_PYTHON (a Home Assistant) is not set")
async def test_real_home_assistant_takes_a_handed_over_turn(
    tmp_path: Path, speech: Callable[[str], Path]
) -> None:
    # local-first: "turn off the kitchen light" is no local intent, so its audio goes to
    # HA's Assist pipeline, which accepts the run and the audio. This HA has no
    # speech-to-text engine, so its pipeline never starts and says nothing: the device
    # says so and gets back to idle.
    async with running_daemon(
        tmp_path / "state",
        homeassistant={"satellite": True, "host": "127.0.0.1", "port": 0, "zeroconf": False},
    ) as daemon:
        assert daemon.local is not None
        sat = daemon.homeassistant.satellite
        sub = daemon.bus.subscribe()
        (tmp_path / "ha").mkdir()
        driver = Path(__file__).with_name("ha_driver.py")
        args = [str(daemon.homeassistant.port), str(tmp_path / "ha"), str(free_port()), "wait"]
        proc = await asyncio.create_subprocess_exec(
            HA_PYTHON, str(driver), *args,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert proc.stdout is not None and proc.stdin is not None
        async with asyncio.timeout(180):
            while (line := await proc.stdout.readline()) and line.strip() != b"READY":
                pass
        assert sat.link is not None
        await feed_wav(daemon.local, read_wav(speech("Turn off the kitchen light"), 16000))
        async with asyncio.timeout(60):
            while sat.state is not RunState.WAITING:  # HA accepted the run; audio sent
                await asyncio.sleep(0.05)
        async with asyncio.timeout(60):
            while True:
                event = await sub.get()
                if isinstance(event, ev.ErrorEvent) and "did not start" in event.message:
                    break
        async with asyncio.timeout(30):
            while sat.state is not RunState.IDLE or daemon.local.state != "idle":
                await asyncio.sleep(0.05)
        assert sat.link is not None  # HA is still there
        proc.stdin.write(b"done\n")
        await proc.stdin.drain()
        await asyncio.wait_for(proc.communicate(), 120)

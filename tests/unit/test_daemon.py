"""The daemon over fake engines: built by the composition root, RTVI sessions, the
local conversation as MQTT sees it, the audio supervisor. Seconds, no models."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import aiohttp

from rtvi_edge import events as ev
from rtvi_edge.audio.sink import AudioSink
from rtvi_edge.audio.supervisor import LocalAudioSupervisor
from rtvi_edge.config import AudioConfig, load_config
from rtvi_edge.daemon import Daemon
from rtvi_edge.local_control import LocalControl
from tests.fakes import UnpluggedOnce, fake_engines
from tests.helpers import next_event
from tests.integration.daemon_harness import (
    RecordingNotifier,
    ready_ws,
    rtvi,
    running_daemon,
    until_type,
)


def spoken_hours() -> set[str]:
    now = dt.datetime.now().astimezone()
    return {f"{(now.hour + d) % 12 or 12}:" for d in (0, 1)}


async def test_rtvi_sessions_get_the_local_intents_and_the_llm(tmp_path: Path) -> None:
    async with (
        running_daemon(tmp_path, fake_engines()) as daemon,
        aiohttp.ClientSession() as http,
    ):
        health = await (await http.get(f"http://127.0.0.1:{daemon.rtvi.port}/health")).json()
        assert health["status"] == "ok" and health["models"]["llm"] == "fake-llm"
        ws = await ready_ws(http, daemon.rtvi.port)
        await ws.send_bytes(rtvi("send-text", {"content": "hello bot"}))
        _stop, seen, audio = await until_type(ws, "bot-stopped-speaking", 10)
        text = "".join(m["data"]["text"] for m in seen if m["type"] == "bot-llm-text")
        assert text == "You said hello bot." and audio
        await ws.send_bytes(rtvi("send-text", {"content": "What time is it?"}, "2"))
        _stop, seen, _audio = await until_type(ws, "bot-stopped-speaking", 10)
        said = " ".join(m["data"]["text"] for m in seen if m["type"] == "bot-tts-text")
        assert any(h in said for h in spoken_hours()), said
        assert not any(m["type"] == "bot-llm-text" for m in seen)  # the intent, not the LLM
        await ws.close()


async def test_update_config_keeps_the_volume_limit(tmp_path: Path) -> None:
    async with (
        running_daemon(tmp_path, fake_engines()) as daemon,
        aiohttp.ClientSession() as http,
    ):
        ws = await ready_ws(http, daemon.rtvi.port)
        update = [{"service": "audio", "options": [{"name": "volume", "value": 5}]}]
        await ws.send_bytes(rtvi("update-config", {"config": update}, "u1"))
        reply, _seen, _audio = await until_type(ws, "error-response", 10)
        assert "volume" in reply["data"]["error"]
        await ws.close()


async def test_mqtt_ask_answers_from_the_local_conversation(tmp_path: Path) -> None:
    async with running_daemon(tmp_path, fake_engines(), rtvi={"enabled": False}) as daemon:
        assert daemon.local is not None and daemon.local_services is not None
        control = LocalControl(
            daemon.bus, daemon.device_id, lambda: daemon.config, daemon.local, daemon.local_services
        )
        answer = await control.ask("what time is it")
        assert any(h in answer for h in spoken_hours()), answer
        assert "can't" in await control.ask("turn on the kitchen light")
        assert await control.ask("hello") == "You said hello."
        control.set_volume(9)
        assert control.volume() == 2.0
        assert control.state() == "idle"


class FakeMicUser:
    session_id = "local"

    def __init__(self) -> None:
        self.bus = ev.EventBus()
        self.fed = 0
        self.sink: AudioSink | None = None

    def feed_audio(self, pcm16k: bytes) -> None:
        self.fed += len(pcm16k)

    def attach_sink(self, sink: AudioSink | None) -> None:
        self.sink = sink


async def test_the_supervisor_reports_a_failing_device_once_and_reopens_it() -> None:
    user = FakeMicUser()
    sub = user.bus.subscribe()
    device = UnpluggedOnce(5, 1024)
    sup = LocalAudioSupervisor(AudioConfig(reopen_secs=0.01), user, opener=device)  # type: ignore[arg-type]
    task = asyncio.create_task(sup.run())
    async with asyncio.timeout(10):
        await device.reopened.wait()
    error = await next_event(sub, ev.ErrorEvent)
    assert "unplugged" in error.message and sub.queue.empty()  # said once
    assert device.opened[0].closed and user.sink is not None and user.fed > 0
    assert sup.running
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert not sup.running and user.sink is None


async def test_reload_updates_the_local_conversation_and_a_bad_file_changes_nothing(
    tmp_path: Path,
) -> None:
    cfg = tmp_path / "config.toml"
    base = f'[device]\nstate_dir = "{tmp_path / "state"}"\n[rtvi]\nenabled = false\n'
    base += '[audio]\nbackend = "none"\n[log]\njournald = "off"\n'
    cfg.write_text(base + '[llm]\nsystem_prompt = "Be brief."\n')
    config, path = load_config(str(cfg))
    notifier = RecordingNotifier()
    daemon = Daemon(config, path, notifier, engines=fake_engines())
    await daemon.start()
    try:
        assert daemon.local is not None and daemon.local.settings.system_prompt == "Be brief."
        daemon.local.set_muted(True)  # as MQTT or Home Assistant would, at run time
        daemon.local.set_volume(0.4)
        cfg.write_text(base + '[llm]\nsystem_prompt = "Be kind."\n')
        await daemon.reload()
        assert daemon.local.settings.system_prompt == "Be kind."
        assert daemon.local.context.system_prompt == "Be kind."
        assert daemon.local.muted and daemon.local.volume == 0.4  # the file went under them
        cfg.write_text(base + "[vad]\nstop_secs = 99\n")
        await daemon.reload()
        assert daemon.local.settings.system_prompt == "Be kind."
        assert any("refused" in line for line in notifier.sent)
    finally:
        await daemon.stop()

"""The MQTT bridge with a real mosquitto broker and the real daemon."""

from __future__ import annotations

import asyncio
import json
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from rtvi_edge.daemon import Daemon
from tests.integration.daemon_harness import daemon_with_broker, running_daemon
from tests.integration.mosquitto import Mosquitto
from tests.integration.mqtt_watcher import Watcher, js

pytestmark = pytest.mark.integration
BASE = "rtvi-edge/test-device"


def setup(
    tmp_path: Path, **mqtt_cfg: Any
) -> AbstractAsyncContextManager[tuple[Daemon, Mosquitto, Watcher]]:
    return daemon_with_broker(tmp_path, mqtt={"metrics_interval_secs": 1.0, **mqtt_cfg})


async def test_discovery_availability_and_retained_state(tmp_path: Path) -> None:
    async with setup(tmp_path) as (_daemon, _broker, w):
        await w.wait(f"{BASE}/availability", lambda p: p == "online")
        state = await w.wait(f"{BASE}/state")
        assert js(state) == {"state": "idle"}
        config = js(await w.wait(f"{BASE}/config"))
        assert {s["service"] for s in config} >= {"vad", "stt", "llm", "tts", "audio"}
        await w.wait(f"{BASE}/metrics/system", lambda p: "cpu_percent" in p, 5)
        sensor = js(await w.wait("homeassistant/sensor/rtvi_edge_test-device/assist_state/config"))
        assert sensor["state_topic"] == f"{BASE}/state"
        assert sensor["availability_topic"] == f"{BASE}/availability"
        assert sensor["device"]["identifiers"] == ["rtvi-edge-test-device"]
        for component, obj in [
            ("switch", "mute"),
            ("number", "volume"),
            ("button", "stop"),
            ("text", "say"),
            ("text", "ask"),
            ("sensor", "latency"),
            ("sensor", "last_transcript"),
            ("sensor", "last_answer"),
        ]:
            cfg = js(await w.wait(f"homeassistant/{component}/rtvi_edge_test-device/{obj}/config"))
            assert cfg["unique_id"] == f"rtvi_edge_test-device_{obj}"
        # a late subscriber gets the retained topics
        late = Watcher(_broker.port)
        try:
            retained = await late.wait(f"{BASE}/availability", lambda p: p == "online", 5)
            assert retained.retain
        finally:
            late.close()
        # Home Assistant restarting asks for discovery again
        w.clear()
        await w.publish("homeassistant/status", "online")
        await w.wait("homeassistant/button/rtvi_edge_test-device/stop/config")


async def test_every_command_round_trips(tmp_path: Path) -> None:
    async with setup(tmp_path) as (daemon, _broker, w):
        await w.wait(f"{BASE}/availability", lambda p: p == "online")
        # config/set, good and bad (all-or-nothing)
        await w.publish(
            f"{BASE}/config/set",
            json.dumps([{"service": "tts", "options": [{"name": "speed", "value": 1.3}]}]),
        )
        await w.wait(f"{BASE}/config", lambda p: '"speed","value":1.3' in p)
        await w.publish(
            f"{BASE}/config/set",
            json.dumps(
                {
                    "config": [
                        {"service": "tts", "options": [{"name": "speed", "value": 2.0}]},
                        {"service": "tts", "options": [{"name": "pitch", "value": 1}]},
                    ]
                }
            ),
        )
        err = js(await w.wait(f"{BASE}/event/error", lambda p: "pitch" in p))
        assert err["topic"] == f"{BASE}/config/set"
        assert daemon.local is not None and daemon.local.settings.tts_speed == 1.3
        # action on action/response
        await w.publish(
            f"{BASE}/action",
            json.dumps(
                {
                    "id": "a1",
                    "service": "llm",
                    "action": "append_to_messages",
                    "arguments": [
                        {"name": "messages", "value": [{"role": "user", "content": "Hi"}]}
                    ],
                }
            ),
        )
        resp = js(await w.wait(f"{BASE}/action/response", lambda p: '"a1"' in p))
        assert resp == {"id": "a1", "result": True}
        # action with an MQTT 5 response topic and correlation data
        props = Properties(PacketTypes.PUBLISH)
        props.ResponseTopic = "app/replies"
        props.CorrelationData = b"corr-42"
        await w.publish(
            f"{BASE}/action", json.dumps({"service": "llm", "action": "get_context"}), props
        )
        reply = await w.wait("app/replies")
        assert reply.properties.CorrelationData == b"corr-42"
        assert js(reply)["result"]["messages"][-1] == {"role": "user", "content": "Hi"}
        # ask: a typed turn; the transcript and the answer come out as events
        await w.publish(f"{BASE}/ask", "What is two plus two?")
        await w.wait(f"{BASE}/event/user_transcript", lambda p: "two plus two" in p)
        answer = js(await w.wait(f"{BASE}/event/bot_answer", timeout=30))
        assert answer["text"]
        await w.wait(f"{BASE}/metrics", lambda p: "llm_first_token_ms" in p)
        # ask with an MQTT 5 response topic: the answer comes back there too
        props = Properties(PacketTypes.PUBLISH)
        props.ResponseTopic = "app/answers"
        props.CorrelationData = b"q-1"
        await w.publish(f"{BASE}/ask", "What time is it?", props)
        reply = await w.wait("app/answers", timeout=30)
        assert reply.properties.CorrelationData == b"q-1"
        assert js(reply)["answer"].startswith("It is ")
        # say
        await w.publish(f"{BASE}/say", json.dumps({"text": "Dinner is ready."}))
        await w.wait(f"{BASE}/event/bot_answer", lambda p: "Dinner is ready" in p)
        # mute, volume, stop
        await w.publish(f"{BASE}/mute/set", "ON")
        await w.wait(f"{BASE}/mute", lambda p: p == "ON")
        await w.wait(f"{BASE}/state", lambda p: "muted" in p)
        await w.publish(f"{BASE}/mute/set", "OFF")
        await w.wait(f"{BASE}/mute", lambda p: p == "OFF")
        await w.publish(f"{BASE}/volume/set", "40")
        await w.wait(f"{BASE}/volume", lambda p: p == "40")
        assert daemon.local.settings.volume == pytest.approx(0.4)
        await w.publish(f"{BASE}/stop", "PRESS")
        # bad payloads: an error event each, nothing applied, still connected
        for topic, payload, needle in [
            ("config/set", "{nope", "not valid JSON"),
            ("action", json.dumps({"service": "tts", "action": "sing"}), "unknown action"),
            ("volume/set", "loud", "must be a number"),
            ("volume/set", "150", "outside"),
            ("mute/set", "maybe", "ON or OFF"),
            ("say", "", "empty text"),
        ]:
            await w.publish(f"{BASE}/{topic}", payload)
            await w.wait(f"{BASE}/event/error", lambda p, n=needle: n in p)
        assert daemon.local.settings.volume == pytest.approx(0.4)
        assert daemon.mqtt.connected.is_set()


async def test_broker_restart_and_broker_down_at_start(tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path)  # not started: the broker is down when the daemon starts
    async with running_daemon(
        tmp_path / "state", mqtt={"enabled": True, "host": "127.0.0.1", "port": broker.port}
    ) as daemon:
        assert not daemon.mqtt.connected.is_set()  # started without waiting for the broker
        broker.start()
        try:
            await asyncio.wait_for(daemon.mqtt.connected.wait(), 15)
            broker.stop()  # goes away...
            await asyncio.sleep(0.5)
            broker.start()  # ...and comes back empty (no persistence)
            w = Watcher(broker.port)
            try:
                await w.wait(f"{BASE}/availability", lambda p: p == "online", 20)
                await w.wait(f"{BASE}/state", timeout=5)
                await w.wait("homeassistant/switch/rtvi_edge_test-device/mute/config", timeout=5)
                assert daemon.mqtt.connects >= 2
            finally:
                w.close()
        finally:
            broker.stop()


async def test_device_control_intent_publishes_to_the_configured_topic(tmp_path: Path) -> None:
    devices = {"devices": ["kitchen light = home/kitchen/light/set"]}
    async with daemon_with_broker(tmp_path, tools=devices) as (daemon, _broker, w):
        await asyncio.wait_for(daemon.mqtt.connected.wait(), 15)
        await w.publish(f"{BASE}/ask", "Turn on the kitchen light")
        assert (await w.wait("home/kitchen/light/set")).payload == b"ON"
        answer = js(await w.wait(f"{BASE}/event/bot_answer", lambda p: "kitchen" in p))
        assert "Turning on the kitchen light" in answer["text"]
        await w.publish(f"{BASE}/ask", "Switch the kitchen light off")
        await w.wait("home/kitchen/light/set", lambda p: p == "OFF")

"""The MQTT bridge against a real mosquitto, with a fake device behind it.

`FakeDeviceControl` stands in for the daemon (tests/integration/test_mqtt.py
runs the real one); the broker and the MQTT client on the other side are real.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from rtvi_edge import events as ev
from rtvi_edge.config import MqttConfig
from rtvi_edge.errors import ConfigError, ServiceConfigError
from rtvi_edge.mqtt.bridge import MqttBridge
from rtvi_edge.mqtt.control import DeviceControl
from rtvi_edge.services.value_types import type_ok
from tests.integration.mosquitto import Mosquitto, make_certificates
from tests.integration.mqtt_watcher import Watcher, js

pytestmark = pytest.mark.integration
B = "rtvi-edge/test-device"
HA = "homeassistant"
DISCOVERY = [
    f"{HA}/{e}/config"
    for e in (
        "sensor/rtvi_edge_test-device/assist_state",
        "sensor/rtvi_edge_test-device/last_transcript",
        "sensor/rtvi_edge_test-device/last_answer",
        "sensor/rtvi_edge_test-device/latency",
        "switch/rtvi_edge_test-device/mute",
        "number/rtvi_edge_test-device/volume",
        "button/rtvi_edge_test-device/stop",
        "button/rtvi_edge_test-device/listen",
        "text/rtvi_edge_test-device/say",
        "text/rtvi_edge_test-device/ask",
    )
]


# -- the device ---------------------------------------------------------------------
class FakeDeviceControl:
    """Just enough of a device: services config with ranges, a few actions, and the
    events a real conversation would publish for say/ask/mute/stop."""

    device_id = "test-device"
    device_name = "Test speaker"

    def __init__(self) -> None:
        self.bus = ev.EventBus()
        self.speed = 1.0
        self.voice = "joe"
        self._volume = 1.0
        self._muted = False
        self._state = ev.BotState.IDLE
        self.said: list[str] = []
        self.asked: list[str] = []
        self.actions: list[tuple[str, str, list[dict[str, Any]]]] = []
        self.interrupts = 0
        self.stops = 0
        self.messages: list[dict[str, Any]] = []
        self.broken = False  # a bug behind the control: listen raises

    def state(self) -> ev.BotState:
        return self._state

    def get_config(self) -> list[dict[str, Any]]:
        return [
            {
                "service": "tts",
                "options": [
                    {"name": "speed", "value": self.speed},
                    {"name": "voice", "value": self.voice},
                ],
            },
            {"service": "audio", "options": [{"name": "volume", "value": self._volume}]},
        ]

    def describe_config(self) -> list[dict[str, Any]]:
        return [
            {
                "name": "tts",
                "options": [
                    {"name": "speed", "type": "number"},
                    {"name": "voice", "type": "string"},
                ],
            },
            {"name": "audio", "options": [{"name": "volume", "type": "number"}]},
        ]

    def describe_actions(self) -> list[dict[str, Any]]:
        return [
            {
                "service": "tts",
                "action": "say",
                "arguments": [{"name": "text", "type": "string", "required": True}],
            },
            {"service": "llm", "action": "get_context", "arguments": []},
            {
                "service": "llm",
                "action": "append_to_messages",
                "arguments": [{"name": "messages", "type": "array", "required": True}],
            },
            {"service": "audio", "action": "listen", "arguments": []},
        ]

    async def update_config(
        self, config: list[dict[str, Any]], interrupt: bool = False
    ) -> list[dict[str, Any]]:
        self._check_config(config)
        new: dict[str, Any] = {"speed": self.speed, "voice": self.voice, "volume": self._volume}
        for item in config:
            for opt in item["options"]:
                if opt["name"] == "speed" and not 0.25 <= opt["value"] <= 4.0:
                    raise ServiceConfigError(f"tts.speed = {opt['value']}: must be 0.25-4.0")
                new[opt["name"]] = opt["value"]
        self.speed, self.voice, self._volume = new["speed"], new["voice"], new["volume"]
        self.interrupts += interrupt
        self.bus.publish(ev.ConfigChanged(session_id="local", config=self.get_config()))
        return self.get_config()

    def _check_config(self, config: list[dict[str, Any]]) -> None:
        """What the RTVI services check (the bridge leaves it to them)."""
        known = {
            s["name"]: {o["name"]: o["type"] for o in s["options"]} for s in self.describe_config()
        }
        for i, item in enumerate(config):
            service = item["service"]
            if service not in known:
                raise ServiceConfigError(f"config[{i}].service = {service!r}: unknown service")
            for opt in item["options"]:
                name, value = opt["name"], opt["value"]
                if name not in known[service]:
                    raise ServiceConfigError(f"{service} has no option {name!r}")
                if not type_ok(known[service][name], value):
                    raise ServiceConfigError(
                        f"{service}.{name} = {value!r}: must be of type {known[service][name]}"
                    )

    def _check_action(self, service: str, action: str, args: dict[str, Any]) -> None:
        specs = {(a["service"], a["action"]): a for a in self.describe_actions()}
        spec = specs.get((service, action))
        if spec is None:
            raise ServiceConfigError(f"unknown action {service}:{action}")
        for arg in spec["arguments"]:
            if arg.get("required") and arg["name"] not in args:
                raise ServiceConfigError(f"{service}:{action}: missing argument {arg['name']!r}")

    async def run_action(self, service: str, action: str, arguments: list[dict[str, Any]]) -> Any:
        args = {a["name"]: a["value"] for a in arguments}
        self._check_action(service, action, args)
        self.actions.append((service, action, arguments))
        if (service, action) == ("tts", "say"):
            if not args["text"].strip():
                raise ServiceConfigError("tts:say: text is empty")
            await self.say(args["text"])
            return True
        if (service, action) == ("llm", "append_to_messages"):
            self.messages.extend(args["messages"])
            return True
        if (service, action) == ("llm", "get_context"):
            return {"messages": self.messages}
        if self.broken:
            raise RuntimeError("boom")
        return True

    async def say(self, text: str) -> None:
        self.said.append(text)
        self._speak(text)

    async def ask(self, text: str) -> str:
        self.asked.append(text)
        self.bus.publish(ev.UserTranscription(session_id="local", text=text, final=True))
        answer = f"You asked: {text}"
        self._speak(answer)
        return answer

    def _speak(self, text: str) -> None:
        self.set_state(ev.BotState.SPEAKING)
        self.bus.publish(ev.BotOutput(session_id="local", text=text, spoken=False))
        self.bus.publish(ev.TurnMetrics(session_id="local", llm_ttfb=0.1, voice_to_voice=0.6))
        self.set_state(ev.BotState.IDLE)

    def set_state(self, state: ev.BotState) -> None:
        self._state = "muted" if self._muted else state
        self.bus.publish(ev.StateChanged(session_id="local", state=self._state))

    def set_muted(self, muted: bool) -> None:
        self._muted = muted
        self.set_state(ev.BotState.IDLE)

    def set_volume(self, volume: float) -> None:
        self._volume = volume

    def volume(self) -> float:
        return self._volume

    def muted(self) -> bool:
        return self._muted

    async def stop(self) -> None:
        self.stops += 1
        self.bus.publish(ev.BotInterrupted(session_id="local", spoken_text=""))


def _implements_the_protocol(control: FakeDeviceControl) -> DeviceControl:
    return control  # mypy checks FakeDeviceControl against the Protocol here


def correlation(msg: mqtt.MQTTMessage) -> bytes | None:
    return getattr(msg.properties, "CorrelationData", None)


def contains(needle: str) -> Callable[[str], bool]:
    return lambda payload: needle in payload


def request(response_topic: str, correlation: bytes) -> Properties:
    props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    props.ResponseTopic = response_topic
    props.CorrelationData = correlation
    return props


async def eventually(check: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


# -- fixtures -----------------------------------------------------------------------
@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    b = Mosquitto(tmp_path / "broker")
    b.start()
    yield b
    b.stop()


@pytest.fixture
def watcher(broker: Mosquitto) -> Iterator[Watcher]:
    w = Watcher(broker.port)
    yield w
    w.close()


def mqtt_config(port: int, **overrides: Any) -> MqttConfig:
    return MqttConfig(
        enabled=True, host="127.0.0.1", port=port, metrics_interval_secs=1.0, **overrides
    )


@pytest.fixture
async def device() -> FakeDeviceControl:
    return FakeDeviceControl()


@pytest.fixture
async def bridge(broker: Mosquitto, device: FakeDeviceControl) -> AsyncIterator[MqttBridge]:
    b = MqttBridge(mqtt_config(broker.port), _implements_the_protocol(device))
    await b.start()
    await asyncio.wait_for(b.connected.wait(), 10)
    yield b
    await asyncio.wait_for(b.stop(), 10)


# -- retained topics and discovery ----------------------------------------------------
async def test_retained_topics_and_discovery(
    broker: Mosquitto, watcher: Watcher, bridge: MqttBridge
) -> None:
    await watcher.wait(f"{B}/availability", lambda p: p == "online")
    assert js(await watcher.wait(f"{B}/state")) == {"state": "idle"}
    config = js(await watcher.wait(f"{B}/config"))
    assert config[0]["options"][0] == {"name": "speed", "value": 1.0}
    assert (await watcher.wait(f"{B}/mute")).payload == b"OFF"
    assert (await watcher.wait(f"{B}/volume")).payload == b"100"
    system = js(await watcher.wait(f"{B}/metrics/system", timeout=5))
    assert {"cpu_percent", "rss_mb", "memory_percent", "load_1m"} <= set(system)
    for topic in DISCOVERY:
        cfg = js(await watcher.wait(topic))
        assert cfg["availability_topic"] == f"{B}/availability"
        assert cfg["device"]["identifiers"] == ["rtvi-edge-test-device"]
        assert cfg["device"]["name"] == "Test speaker"
    # A client that comes later gets every retained topic from the broker.
    late = Watcher(broker.port)
    try:
        for topic in [f"{B}/availability", f"{B}/state", f"{B}/config", *DISCOVERY]:
            assert (await late.wait(topic, timeout=5)).retain, topic
        assert late.on(f"{B}/availability")[0].payload == b"online"
    finally:
        late.close()
    # Home Assistant restarting (its birth message) gets discovery again.
    watcher.clear()
    await watcher.publish(f"{HA}/status", "online")
    for topic in DISCOVERY:
        await watcher.wait(topic)
    # Stopping says offline (the last will covers a crash).
    await bridge.stop()
    assert (await watcher.wait(f"{B}/availability", lambda p: p == "offline")).payload


async def test_discovery_disabled_removes_the_entities(broker: Mosquitto) -> None:
    first = MqttBridge(mqtt_config(broker.port), FakeDeviceControl())
    await first.start()
    await asyncio.wait_for(first.connected.wait(), 10)
    w = Watcher(broker.port)
    try:
        await w.wait(DISCOVERY[0], timeout=5)
    finally:
        w.close()
    await first.stop()
    second = MqttBridge(mqtt_config(broker.port, discovery=False), FakeDeviceControl())
    await second.start()
    await asyncio.wait_for(second.connected.wait(), 10)
    # The removals go out before `online`, on the same connection: once `online` is
    # retained, the broker has dropped the retained discovery configs. (The first
    # bridge's retained state and `offline` linger until then, so wait for `online`.)
    try:
        probe = Watcher(broker.port)
        try:
            await probe.wait(f"{B}/availability", lambda p: p == "online", timeout=10)
        finally:
            probe.close()
        late = Watcher(broker.port)
        try:
            assert (await late.wait(f"{B}/availability", timeout=5)).payload == b"online"
            assert (await late.wait(f"{B}/state", timeout=5)).retain
        finally:
            late.close()
        assert not [m.topic for m in late.messages if m.topic.startswith(f"{HA}/")]
    finally:
        await second.stop()


# -- commands ------------------------------------------------------------------------
async def test_config_set(watcher: Watcher, bridge: MqttBridge, device: FakeDeviceControl) -> None:
    item = {"service": "tts", "options": [{"name": "speed", "value": 1.3}]}
    await watcher.publish(f"{B}/config/set", json.dumps([item]))
    await watcher.wait(f"{B}/config", contains('"speed","value":1.3'))
    assert device.speed == 1.3 and device.interrupts == 0
    # the wrapped form, with interrupt, answered on an MQTT 5 response topic
    wrapped = {"config": [{"service": "tts", "options": [{"name": "voice", "value": "amy"}]}]}
    wrapped["interrupt"] = True  # type: ignore[assignment]
    await watcher.publish(f"{B}/config/set", json.dumps(wrapped), request("app/cfg", b"c1"))
    reply = await watcher.wait("app/cfg")
    assert correlation(reply) == b"c1"
    assert js(reply)["config"][0]["options"][1] == {"name": "voice", "value": "amy"}
    assert device.voice == "amy" and device.interrupts == 1
    # all or nothing: one bad option (unknown, or refused by the device) and nothing changes
    for bad, needle in [
        ([item | {"options": [{"name": "speed", "value": 2.0}, {"name": "pitch", "value": 1}]}],
         "no option 'pitch'"),
        ([{"service": "tts", "options": [{"name": "speed", "value": 9.0}]}], "must be 0.25-4.0"),
    ]:  # fmt: skip
        await watcher.publish(f"{B}/config/set", json.dumps(bad), request("app/cfg", b"c2"))
        err = js(await watcher.wait(f"{B}/event/error", contains(needle)))
        assert err["topic"] == f"{B}/config/set" and err["command"] == "config/set"
        assert "error" in js(await watcher.wait("app/cfg", contains(needle)))
    assert device.speed == 1.3
    assert bridge.connected.is_set()


async def test_action_answers_on_action_response_or_the_response_topic(
    watcher: Watcher, bridge: MqttBridge, device: FakeDeviceControl
) -> None:
    messages = [{"role": "user", "content": "Hi"}]
    append = {
        "id": "a1",
        "service": "llm",
        "action": "append_to_messages",
        "arguments": [{"name": "messages", "value": messages}],
    }
    await watcher.publish(f"{B}/action", json.dumps(append))
    assert js(await watcher.wait(f"{B}/action/response")) == {"id": "a1", "result": True}
    get = {"service": "llm", "action": "get_context"}
    await watcher.publish(f"{B}/action", json.dumps(get), request("app/replies", b"corr-42"))
    reply = await watcher.wait("app/replies")
    assert correlation(reply) == b"corr-42"
    assert js(reply) == {"id": None, "result": {"messages": messages}}
    assert len(watcher.on(f"{B}/action/response")) == 1  # the response topic replaced it
    # refused by the device, and refused by the checks: {"id", "error"} and an error event
    say = {
        "id": 5,
        "service": "tts",
        "action": "say",
        "arguments": [{"name": "text", "value": " "}],
    }
    await watcher.publish(f"{B}/action", json.dumps(say))
    resp = js(await watcher.wait(f"{B}/action/response", contains('"id":5')))
    assert resp == {"id": 5, "error": "tts:say: text is empty"}
    await watcher.publish(f"{B}/action", json.dumps({"id": "x", "service": "tts", "action": "x"}))
    resp = js(await watcher.wait(f"{B}/action/response", contains('"id":"x"')))
    assert "unknown action tts:x" in resp["error"]
    err = js(await watcher.wait(f"{B}/event/error", contains("unknown action")))
    assert err["id"] == "x" and err["command"] == "action"
    assert [a[:2] for a in device.actions] == [
        ("llm", "append_to_messages"),
        ("llm", "get_context"),
        ("tts", "say"),
    ]


async def test_say_and_ask(watcher: Watcher, bridge: MqttBridge, device: FakeDeviceControl) -> None:
    await watcher.publish(f"{B}/say", "Dinner is ready.")
    await watcher.publish(f"{B}/say", json.dumps({"text": "Really ready."}))
    await watcher.wait(f"{B}/event/bot_answer", contains("Really ready."))
    assert device.said == ["Dinner is ready.", "Really ready."]
    await watcher.publish(f"{B}/ask", "What time is it?")
    transcript = await watcher.wait(f"{B}/event/user_transcript")
    assert js(transcript) == {"session": "local", "text": "What time is it?"}
    await watcher.wait(f"{B}/event/bot_answer", contains("You asked: What time"))
    await watcher.wait(f"{B}/last_transcript", contains("What time is it?"))
    await watcher.wait(f"{B}/last_answer", contains("You asked"))
    metrics = js(await watcher.wait(f"{B}/metrics"))
    assert metrics["voice_to_voice_ms"] == 600 and metrics["llm_first_token_ms"] == 100
    # with an MQTT 5 response topic the answer comes back there too
    await watcher.publish(f"{B}/ask", "And the date?", request("app/answers", b"q-1"))
    reply = await watcher.wait("app/answers")
    assert correlation(reply) == b"q-1"
    assert js(reply) == {"answer": "You asked: And the date?"}
    await watcher.wait(f"{B}/event/bot_answer", contains("And the date?"))


async def test_mute_volume_stop_listen(
    watcher: Watcher, bridge: MqttBridge, device: FakeDeviceControl
) -> None:
    await watcher.publish(f"{B}/mute/set", "ON")
    await watcher.wait(f"{B}/mute", lambda p: p == "ON")
    await watcher.wait(f"{B}/state", contains("muted"))
    assert device.muted()
    await watcher.publish(f"{B}/mute/set", "false")
    await watcher.wait(f"{B}/mute", lambda p: p == "OFF")
    await watcher.publish(f"{B}/volume/set", "40")
    await watcher.wait(f"{B}/volume", lambda p: p == "40")
    assert device.volume() == pytest.approx(0.4)
    await watcher.publish(f"{B}/stop", "PRESS", request("app/stop", b"s"))
    assert js(await watcher.wait("app/stop")) == {"ok": True}
    await watcher.wait(f"{B}/event/interrupted")
    assert device.stops == 1
    await watcher.publish(f"{B}/listen", "PRESS")
    await eventually(lambda: ("audio", "listen", []) in device.actions)


@pytest.mark.parametrize(
    ("topic", "payload", "needle"),
    [
        ("config/set", "{nope", "not valid JSON"),
        ("config/set", '{"config": 3}', "must be a list"),
        ("config/set", '[{"service": "stt", "options": []}]', "'stt': unknown service"),
        ("config/set", '[{"service": "tts", "options": [{"name": "speed", "value": "x"}]}]',
         "must be of type number"),
        ("action", "[]", "must be an object"),
        ("action", '{"service": "tts", "action": "sing"}', "unknown action tts:sing"),
        ("action", '{"service": "tts", "action": "say"}', "missing argument 'text'"),
        ("say", "", "empty text"),
        ("say", '{"words": "hi"}', '{\\"text\\": \\"...\\"}'),
        ("ask", b"\xff\xfe", "not UTF-8"),
        ("mute/set", "maybe", "ON or OFF"),
        ("volume/set", "loud", "must be a number"),
        ("volume/set", "150", "outside 0-100"),
    ],
)  # fmt: skip
async def test_bad_payloads_are_refused_with_an_error_event(
    watcher: Watcher,
    bridge: MqttBridge,
    device: FakeDeviceControl,
    topic: str,
    payload: str | bytes,
    needle: str,
) -> None:
    before = (device.get_config(), device.muted(), device.volume())
    await watcher.publish(f"{B}/{topic}", payload)
    err = js(await watcher.wait(f"{B}/event/error", lambda p: needle in p))
    assert err["topic"] == f"{B}/{topic}" and err["command"] == topic
    assert (device.get_config(), device.muted(), device.volume()) == before
    assert not device.said and not device.asked and not device.actions
    assert bridge.connected.is_set()


async def test_a_failing_device_is_reported_and_the_bridge_goes_on(
    watcher: Watcher, bridge: MqttBridge, device: FakeDeviceControl
) -> None:
    device.broken = True
    await watcher.publish(f"{B}/listen", "PRESS", request("app/listen", b"l"))
    err = js(await watcher.wait(f"{B}/event/error"))
    assert err == {
        "topic": f"{B}/listen",
        "command": "listen",
        "error": "listen: internal error: boom",
    }
    assert js(await watcher.wait("app/listen")) == {"error": "listen: internal error: boom"}
    device.broken = False
    await watcher.publish(f"{B}/say", "Still here.")
    await eventually(lambda: device.said == ["Still here."])


async def test_a_retained_command_is_not_replayed(
    broker: Mosquitto, watcher: Watcher, device: FakeDeviceControl
) -> None:
    await watcher.publish(f"{B}/say", "Old news.", retain=True)
    b = MqttBridge(mqtt_config(broker.port), device)
    await b.start()
    try:
        await asyncio.wait_for(b.connected.wait(), 10)
        await watcher.publish(f"{B}/say", "Fresh.")
        await eventually(lambda: bool(device.said))
        assert device.said == ["Fresh."]
    finally:
        await b.stop()
        await watcher.publish(f"{B}/say", b"", retain=True)


# -- a broker that goes away, or is not there yet ------------------------------------------
async def test_broker_restart_reconnects_and_restores_retained_topics(
    broker: Mosquitto, bridge: MqttBridge, device: FakeDeviceControl
) -> None:
    assert bridge.connects == 1
    broker.stop()
    await eventually(lambda: not bridge.connected.is_set())
    # Meanwhile the device goes on: retained values change, events pile up (bounded).
    device.set_state(ev.BotState.THINKING)
    n = bridge.outbox.max_events + 10
    for i in range(n):
        device.bus.publish(ev.ErrorEvent(session_id="local", message=f"offline {i}"))
        if i % 32 == 0:
            await asyncio.sleep(0)  # the bridge takes them off the bus as they come
    await eventually(lambda: bridge.dropped == 10)
    assert bridge.outbox.pending_events == bridge.outbox.max_events
    broker.start()  # same port, empty: no persistence
    await asyncio.wait_for(bridge.connected.wait(), 15)
    w = Watcher(broker.port)
    try:
        await w.wait(f"{B}/availability", lambda p: p == "online")
        assert js(await w.wait(f"{B}/state")) == {"state": "thinking"}
        await w.wait(f"{B}/config")
        for topic in DISCOVERY:
            await w.wait(topic)
    finally:
        w.close()
    assert bridge.connects == 2
    # the queued events went out and the broker acknowledged them
    await eventually(lambda: bridge.outbox.pending_events == 0 and not bridge._unacked)
    # and commands work again
    w = Watcher(broker.port)
    try:
        await w.publish(f"{B}/say", "Back.")
        await eventually(lambda: device.said == ["Back."])
    finally:
        w.close()


async def test_events_lost_on_the_bus_do_not_lose_the_state(
    watcher: Watcher, bridge: MqttBridge, device: FakeDeviceControl
) -> None:
    device.set_state(ev.BotState.THINKING)  # the oldest: dropped by the full queue
    for i in range(bridge.outbox.max_events + 20):
        device.bus.publish(ev.ErrorEvent(session_id="local", message=f"flood {i}"))
    await watcher.wait(f"{B}/state", contains("thinking"))
    assert bridge.dropped >= 21


async def test_last_will_says_offline_when_the_connection_dies(
    watcher: Watcher, bridge: MqttBridge
) -> None:
    await watcher.wait(f"{B}/availability", lambda p: p == "online")
    watcher.clear()
    sock = bridge._client.socket()
    assert isinstance(sock, socket.socket)
    sock.shutdown(socket.SHUT_RDWR)  # no DISCONNECT packet: the broker sends the will
    await watcher.wait(f"{B}/availability", lambda p: p == "offline")
    await watcher.wait(f"{B}/availability", lambda p: p == "online")  # and it came back
    await eventually(lambda: bridge.connects == 2 and bridge.connected.is_set())


async def test_broker_down_at_start(tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path / "late-broker")  # not started
    device = FakeDeviceControl()
    b = MqttBridge(mqtt_config(broker.port), device)
    await b.start()
    assert not b.connected.is_set()  # returned without waiting for the broker
    try:
        # The event loop keeps running while paho keeps failing to connect.
        async with asyncio.timeout(10):
            for _ in range(15):
                await asyncio.sleep(0.05)
        assert not b.connected.is_set()
        device.bus.publish(ev.UserTranscription(session_id="local", text="hello", final=True))
        broker.start()
        await asyncio.wait_for(b.connected.wait(), 15)
        w = Watcher(broker.port)
        try:
            await w.wait(f"{B}/availability", lambda p: p == "online")
            await w.wait(f"{B}/last_transcript", contains("hello"))
            await w.wait(DISCOVERY[0])
        finally:
            w.close()
    finally:
        await b.stop()
        broker.stop()


# -- credentials, client id and TLS ---------------------------------------------------------
async def connects(config: MqttConfig, within: float) -> bool:
    """Whether a bridge with this config gets connected and subscribed in time."""
    b = MqttBridge(config, FakeDeviceControl())
    await b.start()
    try:
        await asyncio.wait_for(b.connected.wait(), within)
        return True
    except TimeoutError:
        return False
    finally:
        await asyncio.wait_for(b.stop(), 10)


async def test_username_password_and_client_id(tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path / "auth", users={"rtvi": "s3cret"})
    broker.start()
    try:
        assert await connects(mqtt_config(broker.port, username="rtvi", password="s3cret"), 10)
        assert "as rtvi-edge-test-device " in broker.log.read_text()  # the default client id
        good = mqtt_config(broker.port, username="rtvi", password="s3cret", client_id="kitchen")
        assert await connects(good, 10)
        assert "as kitchen " in broker.log.read_text()
        assert not await connects(mqtt_config(broker.port, username="rtvi", password="no"), 1.5)
        assert not await connects(mqtt_config(broker.port), 1.5)  # anonymous
    finally:
        broker.stop()


async def test_tls_with_a_client_certificate(tmp_path: Path) -> None:
    certs = make_certificates(tmp_path / "certs")
    broker = Mosquitto(tmp_path / "tls", tls=certs, require_client_certificate=True)
    broker.start()
    try:
        tls = {"tls": True, "tls_ca": str(certs.ca)}
        client = {"tls_cert": str(certs.client_cert), "tls_key": str(certs.client_key)}
        assert await connects(mqtt_config(broker.port, **tls, **client), 10)
        assert not await connects(mqtt_config(broker.port, **tls), 1.5)  # no client certificate
        assert not await connects(mqtt_config(broker.port), 1.5)  # no TLS
    finally:
        broker.stop()


def test_missing_tls_files_are_a_config_error(tmp_path: Path) -> None:
    config = mqtt_config(1883, tls=True, tls_ca=str(tmp_path / "missing.pem"))
    with pytest.raises(ConfigError, match="mqtt: TLS files"):
        MqttBridge(config, FakeDeviceControl())

"""The MQTT bridge: the device's state, events and commands on a broker.

paho-mqtt runs its network loop in its own thread and reconnects by itself
(1 s doubling to 60 s); its callbacks only hand work to the event loop. A
broker that is down or slow never blocks the pipeline: publishing is
fire-and-forget, events wait in paho's bounded queue (QoS 1) while offline,
and the retained topics are published afresh on every (re)connect.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import ssl
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from rtvi_edge import events as ev
from rtvi_edge.config import MqttConfig
from rtvi_edge.control import DeviceControl
from rtvi_edge.errors import RtviEdgeError
from rtvi_edge.mqtt import payloads as p
from rtvi_edge.mqtt.discovery import discovery_messages, removal_messages
from rtvi_edge.mqtt.topics import Topics

log = logging.getLogger(__name__)


class MqttBridge:
    def __init__(self, config: MqttConfig, control: DeviceControl) -> None:
        self.config = config
        self.control = control
        self.topics = Topics.for_device(
            control.device_id, config.base_topic, config.discovery_prefix
        )
        self.mapper = p.EventMapper(self.topics)
        self.connected = asyncio.Event()
        self.connects = 0  # how many times it (re)connected
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        client_id = config.client_id or f"rtvi-edge-{control.device_id}"
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
        )
        self._client.enable_logger(logging.getLogger("rtvi_edge.mqtt.paho"))
        if config.username:
            self._client.username_pw_set(config.username, config.password or None)
        if config.tls:
            self._client.tls_set(
                ca_certs=config.tls_ca or None,
                certfile=config.tls_cert or None,
                keyfile=config.tls_key or None,
                cert_reqs=ssl.CERT_REQUIRED,
            )
        self._client.will_set(self.topics.availability, "offline", qos=1, retain=True)
        self._client.reconnect_delay_set(1, 60)
        self._client.max_queued_messages_set(config.queue_size)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message

    # -- lifecycle -------------------------------------------------------------
    async def start(self) -> None:
        """Returns at once; connects (and reconnects) in the background."""
        self._loop = asyncio.get_running_loop()
        self._client.connect_async(self.config.host, self.config.port, self.config.keepalive)
        self._client.loop_start()
        self._spawn(self._forward_events(), "mqtt-events")
        self._spawn(self._system_metrics(), "mqtt-system-metrics")
        log.info(
            "MQTT: connecting to %s:%d as %s", self.config.host, self.config.port, self.topics.base
        )

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.connected.is_set():
            info = self._client.publish(self.topics.availability, "offline", qos=1, retain=True)
            with contextlib.suppress(Exception):
                await asyncio.to_thread(info.wait_for_publish, 2.0)
        self._client.disconnect()
        await asyncio.to_thread(self._client.loop_stop)

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- paho's thread → the event loop -----------------------------------------
    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        if getattr(reason, "is_failure", False):
            log.warning("MQTT: broker refused the connection: %s", reason)
            return
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._connected)

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._disconnected, str(reason))

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._received, msg)

    # -- on the event loop ------------------------------------------------------
    def _connected(self) -> None:
        self.connects += 1
        log.info("MQTT: connected to %s:%d", self.config.host, self.config.port)
        self._client.subscribe([(topic, 1) for topic in self.topics.subscriptions()])
        self._publish_retained()
        self.connected.set()

    def _disconnected(self, reason: str) -> None:
        if self.connected.is_set():
            log.warning("MQTT: lost the broker (%s); reconnecting in the background", reason)
        self.connected.clear()

    def _publish_retained(self) -> None:
        t, c = self.topics, self.control
        self._send(p.Publish(t.availability, "online", retain=True, qos=1))
        self._send(p.Publish(t.state, p.dumps({"state": c.state()}), retain=True, qos=1))
        self._send(p.Publish(t.config, p.dumps(c.get_config()), retain=True, qos=1))
        self._publish_mute_volume()
        self._publish_discovery()

    def _publish_mute_volume(self) -> None:
        t, c = self.topics, self.control
        self._send(p.Publish(t.mute, "ON" if c.muted() else "OFF", retain=True, qos=1))
        self._send(p.Publish(t.volume, str(round(c.volume() * 100)), retain=True, qos=1))

    def _publish_discovery(self) -> None:
        c = self.control
        messages = (
            discovery_messages(self.topics, c.device_id, c.device_name)
            if self.config.discovery
            else removal_messages(self.topics, c.device_id)
        )
        for message in messages:
            self._send(message)

    def _send(self, message: p.Publish, properties: Properties | None = None) -> bool:
        info = self._client.publish(
            message.topic,
            message.payload,
            qos=message.qos,
            retain=message.retain,
            properties=properties,
        )
        return info.rc == mqtt.MQTT_ERR_SUCCESS

    def publish_raw(self, topic: str, payload: str) -> bool:
        """For device-control tools: False when the broker is not connected."""
        if not self.connected.is_set():
            return False
        return self._send(p.Publish(topic, payload, qos=1))

    async def _forward_events(self) -> None:
        sub = self.control.bus.subscribe(maxsize=self.config.queue_size)
        try:
            while True:
                event = await sub.get()
                for message in self.mapper.map(event):
                    # Events go at QoS 1 so paho keeps them (bounded) while offline.
                    self._send(p.Publish(message.topic, message.payload, message.retain, qos=1))
                if isinstance(event, ev.ConfigChanged) and event.session_id == "local":
                    self._publish_mute_volume()
        finally:
            sub.close()

    async def _system_metrics(self) -> None:
        import psutil

        proc = psutil.Process(os.getpid())
        proc.cpu_percent(None)
        while True:
            await asyncio.sleep(self.config.metrics_interval_secs)
            data: dict[str, Any] = {
                "cpu_percent": psutil.cpu_percent(None),
                "process_cpu_percent": proc.cpu_percent(None),
                "rss_mb": round(proc.memory_info().rss / 2**20, 1),
                "memory_percent": psutil.virtual_memory().percent,
                "load_1m": round(os.getloadavg()[0], 2),
            }
            temp = _temperature()
            if temp is not None:
                data["temperature_c"] = temp
            self._send(p.Publish(self.topics.system_metrics, p.dumps(data), retain=True))

    def _received(self, msg: mqtt.MQTTMessage) -> None:
        if msg.topic == self.topics.ha_status:
            if msg.payload.decode("utf-8", "replace").strip() == "online":
                self._publish_discovery()  # Home Assistant restarted
            return
        command = self.topics.command(msg.topic)
        if command is not None and not msg.retain:  # a stale retained command is not replayed
            self._spawn(self._command(command, msg), f"mqtt-{command}")

    async def _command(self, command: str, msg: mqtt.MQTTMessage) -> None:
        try:
            await self._run(command, msg)
        except (RtviEdgeError, ValueError) as exc:
            log.info("MQTT: %s refused: %s", msg.topic, exc)
            self._send(
                p.Publish(
                    self.topics.event("error"),
                    p.dumps({"topic": msg.topic, "error": str(exc)}),
                    qos=1,
                )
            )

    async def _run(self, command: str, msg: mqtt.MQTTMessage) -> None:
        c = self.control
        payload = bytes(msg.payload)
        if command == "config/set":
            items, interrupt = p.config_payload(payload)
            await c.update_config(items, interrupt)
        elif command == "action":
            await self._action(msg, payload)
        elif command == "say":
            await c.say(p.text_payload(payload, "say"))
        elif command == "ask":
            answer = await c.ask(p.text_payload(payload, "ask"))
            self._reply(msg, {"answer": answer})
        elif command == "mute/set":
            c.set_muted(p.switch_payload(payload, "mute/set"))
            self._publish_mute_volume()
        elif command == "volume/set":
            c.set_volume(p.number_payload(payload, "volume/set", 0, 100) / 100)
            self._publish_mute_volume()
        elif command == "stop":
            await c.stop()
        elif command == "listen":
            await c.run_action("audio", "listen", [])

    async def _action(self, msg: mqtt.MQTTMessage, payload: bytes) -> None:
        req_id: Any = None
        try:
            service, action, arguments, req_id = p.action_payload(payload)
            result = await self.control.run_action(service, action, arguments)
        except (RtviEdgeError, ValueError) as exc:
            self._reply(msg, {"id": req_id, "error": str(exc)}, self.topics.action_response)
            raise
        self._reply(msg, {"id": req_id, "result": result}, self.topics.action_response)

    def _reply(
        self, msg: mqtt.MQTTMessage, body: dict[str, Any], default_topic: str | None = None
    ) -> None:
        """To the MQTT 5 response topic (with its correlation data) if the request named
        one, else to `default_topic`."""
        props = getattr(msg, "properties", None)
        response_topic = getattr(props, "ResponseTopic", None) if props else None
        out_props = None
        topic = default_topic
        if response_topic:
            topic = response_topic
            out_props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
            correlation = getattr(props, "CorrelationData", None)
            if correlation is not None:
                out_props.CorrelationData = correlation
        if topic is not None:
            self._send(p.Publish(topic, p.dumps(body), qos=1), out_props)


def _temperature() -> float | None:
    """The SoC temperature where the board has a sensor (Pi: thermal_zone0)."""
    zone = Path("/sys/class/thermal/thermal_zone0/temp")
    try:
        return round(int(zone.read_text().strip()) / 1000, 1)
    except (OSError, ValueError):
        return None

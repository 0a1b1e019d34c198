"""The MQTT bridge: the device's state, events and commands on a broker (I/O shell).

paho-mqtt runs the network in its own thread and reconnects by itself (1 s
doubling to 4 s). Its callbacks only hand work to the event loop with
`call_soon_threadsafe`; everything else happens on the loop. Publishing never
waits for the network: messages go through the `Outbox` (latest retained
values, a bounded drop-oldest queue of events) and are handed to paho only
while connected, at most `WINDOW` unacknowledged at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from rtvi_edge import events as ev
from rtvi_edge.config import MqttConfig
from rtvi_edge.mqtt import commands as cmd
from rtvi_edge.mqtt import payloads as p
from rtvi_edge.mqtt.client import make_client
from rtvi_edge.mqtt.control import DeviceControl
from rtvi_edge.mqtt.discovery import discovery_messages, removal_messages
from rtvi_edge.mqtt.handler import CommandHandler, Reply
from rtvi_edge.mqtt.outbox import Outbox
from rtvi_edge.mqtt.system import SystemSampler
from rtvi_edge.mqtt.topics import Topics

log = logging.getLogger(__name__)

WINDOW = 64  # messages handed to paho and not yet acknowledged by the broker
MAX_COMMANDS = 16  # commands running at once; more are refused, not queued


class MqttBridge:
    def __init__(
        self, config: MqttConfig, control: DeviceControl, esphome_mac: str | None = None
    ) -> None:
        self.config = config
        self.control = control
        self.esphome_mac = esphome_mac  # the Home Assistant satellite's MAC: one HA device
        self.topics = Topics.for_device(
            control.device_id, config.base_topic, config.discovery_prefix
        )
        self.mapper = p.EventMapper(self.topics)
        self.outbox = Outbox(config.queue_size)
        self.connected = asyncio.Event()  # connected and subscribed: commands arrive
        self.connects = 0  # how many times it (re)connected
        self._online = False  # CONNACK seen and no disconnect since
        self._stopping = False
        self._unacked: set[int] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._commands: set[asyncio.Task[Any]] = set()
        self.handler = CommandHandler(control, self.topics, self._send, self._reply)
        self._sub: ev.Subscription | None = None
        client_id = config.client_id or f"rtvi-edge-{control.device_id}"
        self._client = make_client(config, client_id, p.availability(self.topics, online=False))
        self._client.on_connect = self._on_connect
        self._client.on_connect_fail = self._on_connect_fail
        self._client.on_disconnect = self._on_disconnect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_publish = self._on_publish
        self._client.on_message = self._on_message

    def use_config(self, config: MqttConfig) -> None:
        """New settings: the metrics interval applies from the next sample. The broker,
        topics and queue are restart-only (services/restart_only.py)."""
        self.config = config

    @property
    def dropped(self) -> int:
        """Events dropped, oldest first: the broker was away longer than the queue lasts
        (or events came faster than the bridge takes them off the bus)."""
        return self.outbox.dropped + (self._sub.dropped if self._sub is not None else 0)

    # -- lifecycle -------------------------------------------------------------
    async def start(self) -> None:
        """Returns at once; connects (and reconnects) in the background."""
        self._loop = asyncio.get_running_loop()
        c = self.control
        self._sub = sub = c.bus.subscribe(maxsize=self.config.queue_size)  # before the snapshot
        self._put_discovery()
        for message in self.handler.device_state():
            self.outbox.put(message)
        self.outbox.put(p.availability(self.topics, online=True))
        self._spawn(self._forward_events(sub), "mqtt-events", self._tasks)
        self._spawn(self._system_metrics(), "mqtt-system-metrics", self._tasks)
        self._client.connect_async(self.config.host, self.config.port, self.config.keepalive)
        self._client.loop_start()
        log.info(
            "MQTT: connecting to %s:%d as %s", self.config.host, self.config.port, self.topics.base
        )

    async def stop(self) -> None:
        """Says `offline` (if connected), disconnects and ends paho's thread."""
        self._stopping = True
        tasks = self._tasks | self._commands
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._online:
            offline = p.availability(self.topics, online=False)
            info = self._client.publish(offline.topic, offline.payload, qos=1, retain=True)
            with contextlib.suppress(RuntimeError, ValueError):
                await asyncio.to_thread(info.wait_for_publish, 2.0)
        self._client.disconnect()
        await asyncio.to_thread(self._client.loop_stop)
        self._online = False
        self.connected.clear()

    def publish_raw(self, topic: str, payload: str) -> bool:
        """For device-control tools: sent now or never (False when not connected), so a
        "turn on the light" is not replayed an hour later."""
        if not self.connected.is_set():
            return False
        info = self._client.publish(topic, payload, qos=1)
        return info.rc == mqtt.MQTT_ERR_SUCCESS

    def _spawn(
        self, coro: Coroutine[Any, Any, None], name: str, owner: set[asyncio.Task[Any]]
    ) -> None:
        task = asyncio.create_task(coro, name=name)
        owner.add(task)
        task.add_done_callback(owner.discard)

    # -- paho's thread → the event loop -----------------------------------------
    def _post(self, fn: Callable[..., None], *args: Any) -> None:
        loop = self._loop
        if loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop is closed: nothing left to do
            loop.call_soon_threadsafe(fn, *args)

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        if getattr(reason, "is_failure", False):
            log.warning("MQTT: the broker refused the connection: %s", reason)
            return
        self._post(self._connected)

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        log.debug("MQTT: %s:%d unreachable; retrying", self.config.host, self.config.port)

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        self._post(self._disconnected, str(reason))

    def _on_subscribe(
        self, client: mqtt.Client, userdata: Any, mid: int, reasons: Any, properties: Any
    ) -> None:
        refused = [str(r) for r in reasons if getattr(r, "is_failure", False)]
        self._post(self._subscribed, refused)

    def _on_publish(
        self, client: mqtt.Client, userdata: Any, mid: int, reason: Any, properties: Any
    ) -> None:
        self._post(self._acked, mid)

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        self._post(self._received, msg.topic, bytes(msg.payload), msg.retain, _reply_to(msg))

    # -- on the event loop ------------------------------------------------------
    def _connected(self) -> None:
        self._online = True
        self.connects += 1
        log.info("MQTT: connected to %s:%d", self.config.host, self.config.port)
        self._client.subscribe([(topic, 1) for topic in self.topics.subscriptions()])
        self.outbox.reconnected()  # the broker may have lost every retained value
        self._pump()

    def _subscribed(self, refused: list[str]) -> None:
        if refused:
            log.warning("MQTT: the broker refused some subscriptions: %s", ", ".join(refused))
        if self._online:
            self.connected.set()

    def _disconnected(self, reason: str) -> None:
        if self._online and not self._stopping:
            log.warning("MQTT: lost the broker (%s); reconnecting in the background", reason)
        self._online = False
        self.connected.clear()

    def _acked(self, mid: int) -> None:
        self._unacked.discard(mid)
        if self.outbox.pending_events:
            self._pump()

    def _pump(self) -> None:
        """Hand what is due to paho; never waits (paho's thread does the writing)."""
        if not self._online:
            return
        for message in self.outbox.take(WINDOW - len(self._unacked)):
            try:
                info = self._client.publish(
                    message.topic, message.payload, qos=message.qos, retain=message.retain
                )
            except ValueError as exc:  # an invalid topic (from a response topic, say)
                log.warning("MQTT: cannot publish on %r: %s", message.topic, exc)
                continue
            # NO_CONN: the connection just went; paho keeps a QoS 1 message for the next
            # one, and every retained value is published again then anyway.
            if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
                log.warning("MQTT: publish on %s failed: %s", message.topic, info.rc)
            elif message.qos > 0:
                self._unacked.add(info.mid)

    def _put_discovery(self, force: bool = False) -> None:
        c = self.control
        messages = (
            discovery_messages(self.topics, c.device_id, c.device_name, self.esphome_mac)
            if self.config.discovery
            else removal_messages(self.topics, c.device_id)
        )
        for message in messages:
            self.outbox.put(message, force=force)

    def _send(self, message: p.Publish) -> None:
        self.outbox.put(message)
        self._pump()

    async def _forward_events(self, sub: ev.Subscription) -> None:
        lost = 0
        try:
            while True:
                event = await sub.get()
                for message in self.mapper.map(event):
                    self.outbox.put(message)
                local = event.session_id == self.mapper.local
                if local and isinstance(event, ev.StateChanged | ev.ConfigChanged):
                    # muting shows as a state change, the volume in the config
                    for message in self.handler.mute_volume():
                        self.outbox.put(message)
                if sub.dropped != lost:  # a state change may be among them: read it again
                    lost = sub.dropped
                    for message in self.handler.device_state():
                        self.outbox.put(message)
                self._pump()
        finally:
            sub.close()

    async def _system_metrics(self) -> None:
        sampler = SystemSampler()
        while True:
            await asyncio.sleep(self.config.metrics_interval_secs)
            data = await asyncio.to_thread(sampler.sample)
            data["mqtt_dropped_events"] = self.dropped
            self._send(p.retained(self.topics.system_metrics, p.dumps(data)))

    # -- commands ---------------------------------------------------------------
    def _received(self, topic: str, payload: bytes, retain: bool, reply: Reply | None) -> None:
        if topic == self.topics.ha_status:
            if payload.strip() == b"online":  # Home Assistant (re)started
                self._put_discovery(force=True)
                self._pump()
            return
        kind = self.topics.command(topic)
        if kind is None:
            return
        if retain:  # a stale command left on the broker is never replayed
            log.info("MQTT: ignoring the retained command on %s", topic)
            return
        if kind == "action" and reply is None:
            reply = Reply(self.topics.action_response)
        try:
            command = cmd.parse_command(kind, payload)
        except cmd.PayloadError as exc:
            self.handler.refuse(kind, topic, str(exc), reply, exc.request_id)
            return
        except Exception as exc:  # a parser bug must not leave the asker waiting
            log.warning("MQTT: %s: unreadable command: %s", topic, exc)
            self.handler.refuse(kind, topic, f"{kind}: unreadable payload", reply)
            return
        if len(self._commands) >= MAX_COMMANDS:
            error = f"{kind}: busy, {MAX_COMMANDS} commands running"
            self.handler.refuse(kind, topic, error, reply)
            return
        self._spawn(self.handler.run(kind, topic, command, reply), f"mqtt-{kind}", self._commands)

    def _reply(self, reply: Reply, body: dict[str, Any]) -> None:
        """Sent now (not queued): an answer is only useful to the asker while it waits."""
        if not self._online:
            return
        props = None
        if reply.correlation is not None:
            props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
            props.CorrelationData = reply.correlation
        try:
            self._client.publish(reply.topic, p.dumps(body), qos=1, properties=props)
        except ValueError as exc:
            log.info("MQTT: cannot answer on %r: %s", reply.topic, exc)


def _reply_to(msg: mqtt.MQTTMessage) -> Reply | None:
    """The MQTT 5 response topic and correlation data of a request, if any."""
    props = getattr(msg, "properties", None)
    topic = getattr(props, "ResponseTopic", None) if props is not None else None
    if not topic:
        return None
    correlation = getattr(props, "CorrelationData", None)
    return Reply(str(topic), bytes(correlation) if correlation is not None else None)

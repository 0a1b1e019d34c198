"""The other side of the MQTT tests: a paho client that records everything on the broker.

`wait()` is woken by each message as it arrives (no polling); shared by the
bridge tests and the daemon's MQTT tests.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties


class Watcher:
    def __init__(self, port: int) -> None:
        self.messages: list[mqtt.MQTTMessage] = []
        self._lock = threading.Lock()
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []
        self._subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.suppress_exceptions = True
        self.client.on_message = self._on_message
        self.client.on_connect = lambda c, *_: c.subscribe("#", qos=1)
        self.client.on_subscribe = lambda *_: self._subscribed.set()
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        if not self._subscribed.wait(5):
            self.close()
            raise AssertionError("the watcher could not subscribe")

    def _on_message(self, client: Any, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append(msg)
            waiters = list(self._waiters)
        for loop, event in waiters:
            loop.call_soon_threadsafe(event.set)

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()

    def on(self, topic: str) -> list[mqtt.MQTTMessage]:
        with self._lock:
            return [m for m in self.messages if m.topic == topic]

    async def wait(
        self, topic: str, pred: Callable[[str], bool] = lambda _: True, timeout: float = 20
    ) -> mqtt.MQTTMessage:
        """The first message on `topic` (already seen or still to come) that `pred` accepts."""
        arrived = asyncio.Event()
        waiter = (asyncio.get_running_loop(), arrived)
        with self._lock:
            self._waiters.append(waiter)
        try:
            async with asyncio.timeout(timeout):
                while True:
                    arrived.clear()
                    for m in self.on(topic):
                        if pred(m.payload.decode()):
                            return m
                    await arrived.wait()
        except TimeoutError:
            seen = [(m.topic, m.payload[:80]) for m in self.on(topic)]
            raise AssertionError(
                f"nothing matching on {topic} in {timeout} s (there: {seen})"
            ) from None
        finally:
            with self._lock:
                self._waiters.remove(waiter)

    async def publish(
        self,
        topic: str,
        payload: str | bytes,
        properties: Properties | None = None,
        retain: bool = False,
    ) -> None:
        info = self.client.publish(topic, payload, qos=1, retain=retain, properties=properties)
        await asyncio.to_thread(info.wait_for_publish, 5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def js(msg: mqtt.MQTTMessage) -> Any:
    return json.loads(msg.payload.decode())

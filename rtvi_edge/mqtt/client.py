"""The paho-mqtt client, configured from `[mqtt]`: MQTT 5, TLS, credentials, last will."""

from __future__ import annotations

import logging
import ssl
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from rtvi_edge.config import MqttConfig
from rtvi_edge.errors import ConfigError
from rtvi_edge.mqtt.payloads import Publish

log = logging.getLogger("rtvi_edge.mqtt.paho")

MIN_BACKOFF_SECS = 1
MAX_BACKOFF_SECS = 4  # a broker back after an outage is found within ~4 s

_LEVELS: dict[int, int] = {
    mqtt.MQTT_LOG_ERR: logging.WARNING,  # lost connections: the bridge says it better
    mqtt.MQTT_LOG_WARNING: logging.WARNING,
    mqtt.MQTT_LOG_NOTICE: logging.INFO,
    mqtt.MQTT_LOG_INFO: logging.INFO,
    mqtt.MQTT_LOG_DEBUG: logging.DEBUG,
}


def make_client(config: MqttConfig, client_id: str, will: Publish) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    # A bug in a callback must not end paho's network thread (and reconnects with it).
    client.suppress_exceptions = True
    client.on_log = _on_log
    if config.username:
        client.username_pw_set(config.username, config.password or None)
    if config.tls:
        try:
            client.tls_set(
                ca_certs=config.tls_ca or None,
                certfile=config.tls_cert or None,
                keyfile=config.tls_key or None,
                cert_reqs=ssl.CERT_REQUIRED,
            )
        except (OSError, ssl.SSLError, ValueError) as exc:
            raise ConfigError([f"mqtt: TLS files: {exc}"]) from exc
    client.will_set(will.topic, will.payload, qos=1, retain=will.retain)
    # paho's network thread reconnects by itself, doubling the wait up to the cap.
    client.reconnect_delay_set(MIN_BACKOFF_SECS, MAX_BACKOFF_SECS)
    return client


def _on_log(client: mqtt.Client, userdata: Any, level: int, message: str) -> None:
    if message.startswith("Client is not connected"):
        level = mqtt.MQTT_LOG_DEBUG  # paho says so once after every clean disconnect
    log.log(_LEVELS.get(int(level), logging.DEBUG), "%s", message)

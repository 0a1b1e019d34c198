"""The settings that take effect only at the next start, and why (docs/settings.md).

Everything else reaches what runs on a reload or a runtime change. The running
parts see `running(config, started)`: the new settings with these ones kept as
they were at start, so no part ever shows a value it does not use (a new MQTT
host while still connected to the old one); a change to one of them is logged
once, in one line, instead of being silently ignored.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from rtvi_edge.config import Config


@dataclass(frozen=True)
class RestartOnly:
    section: str
    keys: str  # the keys, by space; "*": the whole section
    why: str

    def covers(self, key: str) -> bool:
        return self.keys == "*" or key in self.keys.split()


RESTART_ONLY: tuple[RestartOnly, ...] = (
    RestartOnly("device", "*", "the device's name and id are announced, its state dir opened"),
    RestartOnly(
        "audio",
        "backend input_device output_device input_rate output_rate frame_ms input_file "
        "output_file echo_cancel echo_delay_ms noise_suppression auto_gain reopen_secs",
        "the sound card and the echo canceller are opened",
    ),
    RestartOnly("wake", "*", "the wake-word model and gate are built"),
    RestartOnly("rtvi", "enabled host port", "its listening socket is opened"),
    RestartOnly(
        "webrtc",
        "enabled ice_servers turn_username turn_password host_addresses",
        "its routes and ICE servers are set up",
    ),
    RestartOnly(
        "mqtt",
        "enabled host port username password tls tls_ca tls_cert tls_key client_id "
        "base_topic discovery discovery_prefix keepalive queue_size",
        "the broker connection, its topics and the discovery are made",
    ),
    RestartOnly("wyoming", "*", "its listening socket and services are set up"),
    RestartOnly(
        "homeassistant",
        "satellite host port encryption_key zeroconf mac",
        "its listening socket, key and the device's identity are made",
    ),
    RestartOnly("log", "journald", "the log handler is chosen"),
)


def _rules(section: str) -> list[RestartOnly]:
    return [r for r in RESTART_ONLY if r.section == section]


def running(config: Config, started: Config) -> Config:
    """`config` with every restart-only setting as it was at start: what runs."""
    sections = {}
    for field in dataclasses.fields(Config):
        rules = _rules(field.name)
        if not rules:
            continue
        new, old = getattr(config, field.name), getattr(started, field.name)
        kept = {
            f.name: getattr(old, f.name)
            for f in dataclasses.fields(new)
            if any(r.covers(f.name) for r in rules)
        }
        sections[field.name] = dataclasses.replace(new, **kept)
    return dataclasses.replace(config, **sections)


def waiting_for_restart(config: Config, started: Config) -> list[str]:
    """`[section] key (why)` for each restart-only setting `config` changes from start."""
    waiting = []
    for rule in RESTART_ONLY:
        new, old = getattr(config, rule.section), getattr(started, rule.section)
        keys = [
            f.name
            for f in dataclasses.fields(new)
            if rule.covers(f.name) and getattr(new, f.name) != getattr(old, f.name)
        ]
        if keys:
            waiting.append(f"[{rule.section}] {', '.join(keys)} ({rule.why} at start)")
    return waiting

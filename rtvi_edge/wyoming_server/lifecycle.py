"""Wires the Wyoming server to the running daemon: its engines, its intents and
tools, its config. The daemon calls `start_wyoming` and later `stop()`."""

from __future__ import annotations

import ipaddress
from typing import Protocol

from rtvi_edge.config import Config
from rtvi_edge.engines.hub import EngineHub, Engines
from rtvi_edge.errors import ConfigError
from rtvi_edge.pipeline.conversation import Conversation
from rtvi_edge.wyoming_server.codec import Limits
from rtvi_edge.wyoming_server.connection import ServiceContext
from rtvi_edge.wyoming_server.handle import ConversationAnswerer
from rtvi_edge.wyoming_server.info import Offer
from rtvi_edge.wyoming_server.protocol import SERVICES
from rtvi_edge.wyoming_server.server import WyomingServer
from rtvi_edge.wyoming_server.wake import DetectorPool, wake_words
from rtvi_edge.wyoming_server.zeroconf import Announcer


class Daemon(Protocol):
    """What the Wyoming server needs of the daemon (the interface is ours, the daemon
    satisfies it: no import of the layer above)."""

    device_id: str
    hub: EngineHub | None

    @property
    def config(self) -> Config: ...

    def text_conversation(self, session_id: str) -> Conversation: ...


class WyomingService:
    """The server plus what it owns beyond connections (the answering conversations)."""

    def __init__(self, server: WyomingServer, answerer: ConversationAnswerer | None) -> None:
        self.server = server
        self.answerer = answerer

    @property
    def port(self) -> int:
        return self.server.port

    async def stop(self) -> None:
        await self.server.stop()
        if self.answerer is not None:
            await self.answerer.close()


def check_services(services: tuple[str, ...]) -> frozenset[str]:
    unknown = [s for s in services if s not in SERVICES]
    if unknown:
        raise ConfigError(
            [f"[wyoming] services: unknown service {unknown[0]!r} (known: {', '.join(SERVICES)})"]
        )
    return frozenset(services)


def announce_on(interface: str, host: str) -> str:
    """The interface to announce on: the configured one, else the one IPv4 address
    served on, else "" (every interface)."""
    if interface:
        return interface
    try:
        address = ipaddress.IPv4Address(host)
    except ValueError:
        return ""
    return "" if address.is_unspecified else str(address)


def text_conversation(daemon: Daemon, session_id: str) -> Conversation:
    """A conversation that answers in text with the device's intents and tools, built
    by the composition root like every other."""
    return daemon.text_conversation(session_id)


def _offer(daemon: Daemon, services: frozenset[str]) -> Offer:
    assert daemon.hub is not None
    config = daemon.config
    engines = daemon.hub.engines
    language = config.stt.language or "en"
    return Offer(
        services=services,
        device_name=config.device.name,
        language=language,
        stt_model=engines.stt.model_name,
        tts_voice=engines.tts.model_name,
        tts_languages=(language,),
        llm_model=engines.llm.model_name,
        wake_words=wake_words(config.wake.model),
    )


async def start_wyoming(daemon: Daemon) -> WyomingService:
    cfg = daemon.config.wyoming
    services = check_services(cfg.services)
    answerer = (
        ConversationAnswerer(lambda sid: text_conversation(daemon, sid))
        if "handle" in services
        else None
    )

    def engines() -> Engines:
        assert daemon.hub is not None
        return daemon.hub.engines

    def detectors() -> DetectorPool:
        wake = daemon.config.wake
        return DetectorPool(wake_words(wake.model), wake.model, wake.threshold)

    ctx = ServiceContext(
        services=services,
        engines=engines,
        offer=lambda: _offer(daemon, services),
        tts_speed=lambda: daemon.config.tts.speed,
        detectors=detectors,
        answerer=answerer,
        max_audio_secs=cfg.max_audio_secs,
        max_text_chars=cfg.max_text_chars,
        limits=Limits(),
    )
    interface = announce_on(cfg.zeroconf_interface, cfg.host)

    def announcer(port: int) -> Announcer:
        return Announcer(daemon.device_id, port, interface)

    server = WyomingServer(cfg.host, cfg.port, ctx, announcer if cfg.zeroconf else None)
    await server.start()
    return WyomingService(server, answerer)

"""The ESPHome API server: listens, serves each connection, announces itself.

`HomeAssistantSatellite.start` binds the port (0 = a free one), hooks the
satellite into the local conversation and announces the device over zeroconf;
`stop` undoes it in reverse order.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from pathlib import Path
from typing import Any

from rtvi_edge import events as ev
from rtvi_edge.config import Config, HaPipeline, HomeAssistantConfig, WakeMode
from rtvi_edge.errors import ConfigError
from rtvi_edge.homeassistant.connection import ApiConnection
from rtvi_edge.homeassistant.identity import DeviceIdentity, identity_for
from rtvi_edge.homeassistant.noise import decode_key
from rtvi_edge.homeassistant.satellite import Satellite
from rtvi_edge.homeassistant.zeroconf_announce import EsphomeAnnouncement
from rtvi_edge.pipeline.conversation import Conversation

log = logging.getLogger(__name__)

WAKE_WORD_FILE = "homeassistant-wake-word"  # in the state directory: HA's choice, kept


def effective_pipeline(config: Config) -> HaPipeline:
    pipeline = config.homeassistant.pipeline
    if pipeline == HaPipeline.HOMEASSISTANT and config.wake.mode == WakeMode.ALWAYS:
        log.warning(
            "[homeassistant] pipeline = 'homeassistant' needs [wake] mode = 'wake_word' or "
            "'push_to_talk' (the device must know when a turn starts); using 'local-first'"
        )
        return HaPipeline.LOCAL_FIRST
    return pipeline


class HomeAssistantSatellite:
    def __init__(
        self, config: Config, device_id: str, conversation: Conversation, state_dir: Path
    ) -> None:
        cfg = config.homeassistant
        self.config = config
        self.identity: DeviceIdentity = identity_for(config, device_id, state_dir)
        self.psk = decode_key(cfg.encryption_key) if cfg.encryption_key else None
        self.pipeline = effective_pipeline(config)
        self.satellite = Satellite(
            conversation, cfg, self.pipeline, config.wake.model, config.wake.threshold
        )
        self.satellite.on_entity_change = self._entities_changed
        self._wake_file = state_dir / WAKE_WORD_FILE
        self.satellite.on_wake_word_change = self._keep_wake_word
        self.conversation = conversation
        self.port = 0
        self._server: asyncio.Server | None = None
        self._announcement: EsphomeAnnouncement | None = None
        self._connections: set[ApiConnection] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._watcher: asyncio.Task[None] | None = None

    def use_config(self, cfg: HomeAssistantConfig) -> None:
        """New settings: the pipeline, media URL and limits apply from the next run. The
        socket, key and identity are restart-only (services/restart_only.py)."""
        config = self.config = dataclasses.replace(self.config, homeassistant=cfg)
        self.pipeline = effective_pipeline(config)
        self.satellite.use_config(config.homeassistant, self.pipeline)

    async def start(self) -> None:
        cfg = self.config.homeassistant
        try:
            self._server = await asyncio.start_server(self._serve, cfg.host, cfg.port)
        except OSError as exc:
            raise ConfigError(
                [f"[homeassistant] port = {cfg.port}: cannot listen on {cfg.host}: {exc.strerror}"]
            ) from exc
        self.port = self._server.sockets[0].getsockname()[1]
        with contextlib.suppress(OSError):
            self.satellite.use_wake_word(self._wake_file.read_text(encoding="utf-8").strip())
        # Even with pipeline "local": HA's start_conversation streams, a stop stops HA's audio.
        self.conversation.attach_handoff(self.satellite)
        self._watcher = asyncio.create_task(self._watch_controls(), name="ha-entity-states")
        if not self.psk:
            log.warning(
                "the Home Assistant API on port %d is NOT encrypted: anyone on the network can "
                "talk to it; set [homeassistant] encryption_key (and give HA the same key)",
                self.port,
            )
        log.info(
            "Home Assistant satellite on %s:%d as %r (mac %s), pipeline %s",
            cfg.host, self.port, self.identity.name, self.identity.mac, self.pipeline,
        )  # fmt: skip
        if cfg.zeroconf:
            self._announcement = EsphomeAnnouncement(
                self.identity, cfg.host, self.port, self.psk is not None
            )
            try:
                await self._announcement.start()
            except (OSError, RuntimeError) as exc:
                log.warning("zeroconf announcement failed (add the device by address): %s", exc)
                self._announcement = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = ApiConnection(
            reader, writer, self.identity, self.satellite, self.config.audio.output_rate, self.psk
        )
        self._connections.add(conn)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await conn.serve()
        except Exception:  # one client's failure must not reach the server
            log.exception("API connection %s failed", conn.peer)
        finally:
            self._connections.discard(conn)
            if task is not None:
                self._tasks.discard(task)

    def _keep_wake_word(self, model: str) -> None:
        try:
            self._wake_file.write_text(model + "\n", encoding="utf-8")
        except OSError as exc:
            log.warning("cannot keep the wake word in %s: %s", self._wake_file, exc)

    def _entities_changed(self) -> None:
        for conn in list(self._connections):
            conn.send_states()

    async def _watch_controls(self) -> None:
        """Mute and volume also change over MQTT, RTVI, voice and reloads: keep HA's
        entities true."""
        sub = self.conversation.bus.subscribe(self.conversation.session_id, maxsize=64)
        lost = 0
        try:
            while True:
                event = await sub.get()
                if isinstance(event, ev.ControlsChanged) or sub.dropped != lost:
                    lost = sub.dropped  # a change may be among the dropped: send them anyway
                    self._entities_changed()
        finally:
            sub.close()

    async def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        if self._announcement is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._announcement.stop(), 3)
        if self.conversation.handoff is self.satellite:
            self.conversation.attach_handoff(None)
        if self._server is not None:
            self._server.close()
        for conn in list(self._connections):
            conn.close()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=3)
        await self.satellite.close()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 3)

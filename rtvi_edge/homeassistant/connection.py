"""One ESPHome API client (Home Assistant) on its TCP connection.

Hello first, then device info, the entity list and states, pings, and the
voice assistant messages, which go to the `Satellite`. Garbage closes the
connection with the reason logged; a message type the device does not handle
is logged and ignored, as ESPHome does; the server keeps serving others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from aioesphomeapi.model import VoiceAssistantFeature, VoiceAssistantSubscriptionFlag

from rtvi_edge.errors import ProtocolError
from rtvi_edge.homeassistant import entities
from rtvi_edge.homeassistant.framing import Frame, PlaintextCodec
from rtvi_edge.homeassistant.identity import ESPHOME_VERSION, PROJECT, DeviceIdentity
from rtvi_edge.homeassistant.messages import Message, decode, pb, type_of
from rtvi_edge.homeassistant.noise import NoiseCodec
from rtvi_edge.homeassistant.satellite import Satellite

log = logging.getLogger(__name__)

API_VERSION = (1, 10)  # voice assistant feature flags arrived in 1.10
MAX_WRITE_BUFFER = 4 * 1024 * 1024  # a client that stops reading is dropped
HELLO_TIMEOUT_SECS = 30.0  # a connection that never says hello is closed
FEATURES = (
    VoiceAssistantFeature.VOICE_ASSISTANT
    | VoiceAssistantFeature.API_AUDIO
    | VoiceAssistantFeature.TIMERS
    | VoiceAssistantFeature.ANNOUNCE
    | VoiceAssistantFeature.START_CONVERSATION
)
# Subscriptions HA makes that a voice satellite has nothing for: accepted, nothing sent.
QUIET = (
    pb.SubscribeHomeAssistantStatesRequest,
    pb.SubscribeHomeassistantServicesRequest,
    pb.SubscribeLogsRequest,
    pb.PingResponse,
    pb.GetTimeResponse,
)


class ApiConnection:
    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        identity: DeviceIdentity,
        satellite: Satellite,
        output_rate: int,
        psk: bytes | None,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._identity = identity
        self._satellite = satellite
        self._output_rate = output_rate
        self._codec: PlaintextCodec | NoiseCodec = (
            NoiseCodec(psk, identity.name, identity.mac_hex) if psk else PlaintextCodec()
        )
        self._encrypted = psk is not None
        peer = writer.get_extra_info("peername") or ("?", 0)
        self.peer_host = str(peer[0])
        self.peer = f"{peer[0]}:{peer[1]}"
        self._hello = False
        self._closing = False

    async def serve(self) -> None:
        log.info("Home Assistant API client connected from %s", self.peer)
        try:
            while not self._closing:
                if self._hello:
                    data = await self._reader.read(65536)
                else:
                    async with asyncio.timeout(HELLO_TIMEOUT_SECS):
                        data = await self._reader.read(65536)
                if not data:
                    break
                self._received(data)
        except TimeoutError:  # (an OSError too: caught first)
            log.warning("API client %s said no hello in %.0f s; closing", self.peer,
                        HELLO_TIMEOUT_SECS)  # fmt: skip
        except (ConnectionError, OSError) as exc:
            log.info("API client %s went away: %s", self.peer, exc)
        finally:
            self._satellite.detach(self)
            self._writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await self._writer.wait_closed()
            log.info("API client %s disconnected", self.peer)

    def close(self) -> None:
        self._closing = True
        self._writer.close()

    def _received(self, data: bytes) -> None:
        try:
            frames = self._codec.feed(data)
        except ProtocolError as exc:
            self._write(self._codec.take_output())
            log.warning("API client %s: %s; closing the connection", self.peer, exc)
            self.close()
            return
        self._write(self._codec.take_output())
        for frame in frames:
            if self._closing:
                return
            self._dispatch(frame)

    def _dispatch(self, frame: Frame) -> None:
        try:
            msg = decode(frame)
        except ProtocolError as exc:
            log.warning("API client %s: %s; ignored", self.peer, exc)
            return
        if not self._hello and not isinstance(msg, pb.HelloRequest):
            log.warning(
                "API client %s sent %s before HelloRequest; closing", self.peer, type(msg).__name__
            )
            self.close()
            return
        try:
            self._handle(msg)
        except ProtocolError as exc:
            log.warning("API client %s: %s", self.peer, exc)

    def _handle(self, msg: Message) -> None:
        sat = self._satellite
        if isinstance(msg, pb.HelloRequest):
            self._hello = True
            log.info("API client %s is %r (API %d.%d)", self.peer, msg.client_info,
                     msg.api_version_major, msg.api_version_minor)  # fmt: skip
            self.send(
                pb.HelloResponse(
                    api_version_major=API_VERSION[0],
                    api_version_minor=API_VERSION[1],
                    server_info=f"rtvi-edge {self._identity.version}",
                    name=self._identity.name,
                )
            )
        elif isinstance(msg, pb.AuthenticationRequest):
            # No password here; older clients (HA before 2025.5) wait for this answer.
            self.send(pb.AuthenticationResponse(invalid_password=False))
        elif isinstance(msg, pb.DeviceInfoRequest):
            self.send(self._device_info())
        elif isinstance(msg, pb.ListEntitiesRequest):
            self.send(*entities.list_entities(self._output_rate), pb.ListEntitiesDoneResponse())
        elif isinstance(msg, pb.SubscribeStatesRequest):
            self.send_states()
        elif isinstance(msg, pb.PingRequest):
            self.send(pb.PingResponse())
        elif isinstance(msg, pb.DisconnectRequest):
            self.send(pb.DisconnectResponse())
            self.close()
        elif isinstance(msg, pb.DisconnectResponse):
            self.close()
        elif isinstance(msg, pb.SubscribeVoiceAssistantRequest):
            if msg.subscribe:
                sat.attach(self, bool(msg.flags & VoiceAssistantSubscriptionFlag.API_AUDIO))
            else:
                sat.detach(self)
        elif isinstance(msg, pb.VoiceAssistantResponse):
            sat.on_response(msg)
        elif isinstance(msg, pb.VoiceAssistantEventResponse):
            sat.on_event(msg)
        elif isinstance(msg, pb.VoiceAssistantAudio):
            log.debug("Home Assistant streams answer audio; this device plays the answer's URL")
        elif isinstance(msg, pb.VoiceAssistantAnnounceRequest):
            sat.on_announce(msg, self)
        elif isinstance(msg, pb.VoiceAssistantTimerEventResponse):
            sat.on_timer(msg)
        elif isinstance(msg, pb.VoiceAssistantConfigurationRequest):
            self.send(sat.configuration())
        elif isinstance(msg, pb.VoiceAssistantSetConfiguration):
            sat.set_configuration(msg)
        elif isinstance(msg, pb.SwitchCommandRequest | pb.MediaPlayerCommandRequest):
            refused = entities.command(msg, sat)
            if refused:
                log.warning("API client %s: %s", self.peer, refused)
            self.send_states()
        elif isinstance(msg, QUIET):
            pass
        else:
            log.warning(
                "API client %s sent %s, which this device does not handle; ignored",
                self.peer,
                type(msg).__name__,
            )

    def _device_info(self) -> Message:
        ident = self._identity
        return pb.DeviceInfoResponse(
            uses_password=False,
            name=ident.name,
            friendly_name=ident.friendly_name,
            mac_address=ident.mac.upper(),
            esphome_version=ESPHOME_VERSION,
            model="rtvi-edge",
            manufacturer="rtvi-edge",
            project_name=PROJECT,
            project_version=ident.version,
            voice_assistant_feature_flags=FEATURES,
            api_encryption_supported=self._encrypted,
        )

    def send_states(self) -> None:
        self.send(*entities.states(self._satellite))

    # -- output ----------------------------------------------------------------------------
    def send(self, *msgs: Message) -> None:
        if self._closing or self._writer.is_closing():
            return
        if not self._encrypted or getattr(self._codec, "ready", True):
            out = b"".join(self._codec.encode(type_of(m), m.SerializeToString()) for m in msgs)
            self._write(out)

    def _write(self, data: bytes) -> None:
        if not data or self._writer.is_closing():
            return
        transport: Any = self._writer.transport
        if transport.get_write_buffer_size() > MAX_WRITE_BUFFER:
            log.warning("API client %s does not read what the device sends; closing", self.peer)
            self.close()
            return
        self._writer.write(data)

"""The ESPHome API server on its own: bad input of every kind, a client that vanishes
mid-turn, the encrypted transport, and the zeroconf announcement. A real conversation
(real engines) stands behind it; the clients are aioesphomeapi's and raw sockets."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import socket
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aioesphomeapi import (
    APIClient,
    EncryptionPlaintextAPIError,
    InvalidEncryptionKeyAPIError,
    RequiresEncryptionAPIError,
)
from aioesphomeapi.core import APIConnectionError
from zeroconf import IPVersion
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from rtvi_edge import events as ev
from rtvi_edge.audio.sink import NullSink
from rtvi_edge.config import config_from_mapping
from rtvi_edge.engines.hub import EngineHub, Engines
from rtvi_edge.homeassistant import connection
from rtvi_edge.homeassistant.framing import BAD_INDICATOR_REPLY, PlaintextCodec, encode_plaintext
from rtvi_edge.homeassistant.messages import Message, decode, pb, type_of
from rtvi_edge.homeassistant.satellite import RunState
from rtvi_edge.homeassistant.server import HomeAssistantSatellite
from rtvi_edge.pipeline.conversation import Conversation, Shared
from rtvi_edge.pipeline.settings import SessionSettings

pytestmark = pytest.mark.integration
KEY = "px7tsbK3C7bpXHr2OevEV2ZMg/FrNBw2+O2pNPbedtA="
FRAME = bytes(512 * 2)  # 32 ms of silence


@asynccontextmanager
async def serving(
    engines: Engines, tmp_path: Path, **options: Any
) -> AsyncIterator[HomeAssistantSatellite]:
    ha = {"satellite": True, "host": "127.0.0.1", "port": 0, "zeroconf": False, **options}
    config = config_from_mapping({"homeassistant": ha, "device": {"name": "Kitchen voice"}})
    conv = Conversation(
        "local", Shared(EngineHub(engines, config), ev.EventBus()),
        SessionSettings.from_config(config),
        NullSink(22050),
    )  # fmt: skip
    server = HomeAssistantSatellite(config, "kitchen-voice", conv, tmp_path)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
        await conv.close()


class RawClient:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.codec = PlaintextCodec()

    @classmethod
    async def open(cls, port: int) -> RawClient:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    def send(self, *msgs: Message) -> None:
        self.writer.write(
            b"".join(encode_plaintext(type_of(m), m.SerializeToString()) for m in msgs)
        )

    async def receive(self, kind: type[Any], timeout: float = 10) -> Any:
        async with asyncio.timeout(timeout):
            while True:
                data = await self.reader.read(65536)
                assert data, f"closed while waiting for {kind.__name__}"
                for frame in self.codec.feed(data):
                    msg = decode(frame)
                    if isinstance(msg, kind):
                        return msg

    async def closed_by_peer(self, timeout: float = 10) -> bool:
        async with asyncio.timeout(timeout):
            while data := await self.reader.read(65536):
                del data
        await self.close()
        return True

    async def reply_before_close(self, timeout: float = 10) -> bytes:
        got = b""
        async with asyncio.timeout(timeout):
            while data := await self.reader.read(65536):
                got += data
        await self.close()
        return got

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


async def still_serves(port: int, key: str | None = None) -> None:
    client = APIClient("127.0.0.1", port, None, noise_psk=key)
    await client.connect(login=True)
    assert (await client.device_info()).name == "kitchen-voice"
    await client.disconnect()


async def test_bad_input_is_refused_clearly_and_the_server_keeps_serving(
    engines: Engines,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.INFO, "rtvi_edge.homeassistant")
    async with serving(engines, tmp_path) as server:
        port = server.port
        garbage = await RawClient.open(port)
        garbage.writer.write(b"GET / HTTP/1.1\r\n\r\n")
        assert await garbage.closed_by_peer()
        assert "bad frame preamble 0x47" in caplog.text

        huge = await RawClient.open(port)
        huge.writer.write(b"\x00\xff\xff\xff\x7f\x01")
        assert await huge.closed_by_peer()
        assert "over the" in caplog.text

        rude = await RawClient.open(port)
        rude.send(pb.DeviceInfoRequest())
        assert await rude.closed_by_peer()
        assert "sent DeviceInfoRequest before HelloRequest" in caplog.text

        odd = await RawClient.open(port)
        odd.send(pb.HelloRequest(client_info="test", api_version_major=1, api_version_minor=10))
        odd.writer.write(encode_plaintext(60000, b"\x08\x01"))  # no such message type
        odd.send(pb.CameraImageRequest(single=True))  # a real one this device has no use for
        odd.writer.write(encode_plaintext(type_of(pb.DeviceInfoRequest()), b"\xff\xff"))
        odd.send(pb.DeviceInfoRequest())
        info = await odd.receive(pb.DeviceInfoResponse)
        assert info.mac_address == server.identity.mac.upper()
        assert "unknown message type 60000; ignored" in caplog.text
        assert "CameraImageRequest, which this device does not handle" in caplog.text
        assert "bad DeviceInfoRequest payload" in caplog.text
        await odd.close()

        monkeypatch.setattr(connection, "HELLO_TIMEOUT_SECS", 0.2)
        silent = await RawClient.open(port)
        assert await silent.closed_by_peer()
        assert "said no hello in 0 s" in caplog.text

        plaintext_to_noise = await RawClient.open(port)
        plaintext_to_noise.writer.write(b"\x01\x00\x00")
        assert await plaintext_to_noise.reply_before_close() == BAD_INDICATOR_REPLY
        assert "speaks the encrypted (Noise) API" in caplog.text

        await still_serves(port)


async def test_a_client_that_vanishes_mid_turn_ends_the_turn(
    engines: Engines, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with serving(engines, tmp_path, pipeline="homeassistant") as server:
        sat = server.satellite
        sat.pipeline = "homeassistant"  # (no wake gate here: every frame is a woken turn)
        ha = await RawClient.open(server.port)
        ha.send(
            pb.HelloRequest(client_info="test", api_version_major=1, api_version_minor=10),
            pb.SubscribeVoiceAssistantRequest(subscribe=True, flags=4),
        )
        async with asyncio.timeout(10):
            while sat.link is None:
                await asyncio.sleep(0.02)
        assert server.conversation.feed_audio(FRAME) is None and sat.state is RunState.STARTING
        request = await ha.receive(pb.VoiceAssistantRequest)
        assert request.start
        ha.send(pb.VoiceAssistantResponse(port=0))
        async with asyncio.timeout(10):
            while sat.state is not RunState.STREAMING:
                await asyncio.sleep(0.02)
        for _ in range(10):
            server.conversation.feed_audio(FRAME)
        assert (await ha.receive(pb.VoiceAssistantAudio)).data
        sock = ha.writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        ha.writer.transport.abort()  # gone: a reset, not a goodbye
        await ha.close()
        async with asyncio.timeout(10):
            while sat.link is not None or sat.state is not RunState.IDLE:
                await asyncio.sleep(0.02)
        assert "went away during a turn" in caplog.text
        assert server.conversation.state == "idle"
        server.conversation.feed_audio(FRAME)  # nobody to stream to: the device hears it
        assert sat.state is RunState.IDLE
        await still_serves(server.port)


async def connect_fails(client: APIClient, expected: type[Exception]) -> Exception:
    """The exact error aioesphomeapi raises (Home Assistant's config flow picks its
    prompt by the class: a subclass or the base class would show another)."""
    with pytest.raises(APIConnectionError) as caught:
        await client.connect(login=True)
    with contextlib.suppress(APIConnectionError):
        await client.disconnect(force=True)
    assert type(caught.value) is expected, repr(caught.value)
    return caught.value


async def test_encrypted_api(
    engines: Engines, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with serving(engines, tmp_path, encryption_key=KEY) as server:
        client = APIClient("127.0.0.1", server.port, None, noise_psk=KEY)
        await client.connect(login=True)
        info = await client.device_info()
        assert info.name == "kitchen-voice" and info.api_encryption_supported
        entities, _ = await client.list_entities_services()
        assert len(entities) == 2
        await client.disconnect()

        # a wrong key: "invalid key" (HA: invalid_psk), and the device's name from its hello
        # (HA's flow sends a zero key on purpose to learn it)
        zero = base64.b64encode(bytes(32)).decode()
        wrong = APIClient("127.0.0.1", server.port, None, noise_psk=zero)
        refused = await connect_fails(wrong, InvalidEncryptionKeyAPIError)
        assert getattr(refused, "received_name", None) == "kitchen-voice"
        assert "wrong encryption key" in caplog.text

        # no key: ESPHome's handshake reject, which makes HA ask for the key
        plain = APIClient("127.0.0.1", server.port, None)
        await connect_fails(plain, RequiresEncryptionAPIError)
        assert "speaks the plaintext API, but this device requires encryption" in caplog.text
        await still_serves(server.port, KEY)


async def test_a_key_given_to_a_plaintext_device_is_refused_as_esphome_does(
    engines: Engines, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with serving(engines, tmp_path) as server:
        keyed = APIClient("127.0.0.1", server.port, None, noise_psk=KEY)
        await connect_fails(keyed, EncryptionPlaintextAPIError)
        assert "speaks the encrypted (Noise) API, but this device has no encryption key" in (
            caplog.text
        )
        await still_serves(server.port)


async def test_zeroconf_announcement_is_seen_on_loopback(engines: Engines, tmp_path: Path) -> None:
    async with serving(engines, tmp_path, zeroconf=True) as server:
        zc = AsyncZeroconf(interfaces=["127.0.0.1"], ip_version=IPVersion.V4Only)
        seen: asyncio.Queue[str] = asyncio.Queue()
        browser = AsyncServiceBrowser(
            zc.zeroconf,
            "_esphomelib._tcp.local.",
            handlers=[lambda **kw: seen.put_nowait(kw["name"])],
        )
        try:
            async with asyncio.timeout(15):
                name = await seen.get()
            assert name == "kitchen-voice._esphomelib._tcp.local."
            info = AsyncServiceInfo("_esphomelib._tcp.local.", name)
            assert await info.async_request(zc.zeroconf, 3000)
            assert info.port == server.port
            assert info.properties[b"mac"] == server.identity.mac_hex.encode()
            assert info.properties[b"friendly_name"] == b"Kitchen voice"
        finally:
            await browser.async_cancel()
            await zc.async_close()

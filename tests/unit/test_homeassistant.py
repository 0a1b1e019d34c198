"""The ESPHome API's sans-I/O parts: plaintext framing, the Noise responder (against
aioesphomeapi's own initiator), message decoding, WAV answers, identity and the
MQTT discovery that shares the satellite's device."""

from __future__ import annotations

import io
import json
import struct
import wave
from pathlib import Path

import numpy as np
import pytest
from aioesphomeapi.noise import NoiseHandshake

from rtvi_edge.errors import ConfigError, ProtocolError
from rtvi_edge.homeassistant.framing import (
    BAD_INDICATOR_REPLY,
    Frame,
    PlaintextCodec,
    encode_plaintext,
)
from rtvi_edge.homeassistant.identity import machine_mac, normalise_mac, stable_mac
from rtvi_edge.homeassistant.media import MediaError, absolute_url, pcm_from_wav
from rtvi_edge.homeassistant.messages import decode, pb, type_of
from rtvi_edge.homeassistant.noise import PROLOGUE, NoiseCodec, decode_key
from rtvi_edge.mqtt.discovery import discovery_messages
from rtvi_edge.mqtt.topics import Topics
from rtvi_edge.varint import encode_varint as varint

KEY = "px7tsbK3C7bpXHr2OevEV2ZMg/FrNBw2+O2pNPbedtA="


def test_varints() -> None:
    assert varint(0) == b"\x00" and varint(127) == b"\x7f" and varint(300) == b"\xac\x02"


def test_plaintext_frames_arrive_in_any_pieces() -> None:
    big = b"x" * 200
    wire = encode_plaintext(1, b"hello") + encode_plaintext(7, b"") + encode_plaintext(300, big)
    codec = PlaintextCodec()
    frames = [f for byte in wire for f in codec.feed(bytes([byte]))]
    assert frames == [Frame(1, b"hello"), Frame(7, b""), Frame(300, big)]
    assert PlaintextCodec().feed(wire) == frames


@pytest.mark.parametrize(
    ("wire", "reason"),
    [
        (b"GET /", "bad frame preamble 0x47"),
        (b"\x01\x00\x00", r"speaks the encrypted \(Noise\) API"),
        (b"\x00\xff\xff\xff\x7f\x01", "over the 1048576 byte limit"),
        (b"\x00\xff\xff\xff\xff\xff\xff", "varint longer than 5 bytes"),
    ],
)
def test_plaintext_garbage_is_refused_with_the_reason(wire: bytes, reason: str) -> None:
    codec = PlaintextCodec()
    with pytest.raises(ProtocolError, match=reason):
        codec.feed(wire)
    # as ESPHome: a frame not starting with 0x00 is answered "\x00Bad indicator byte"
    # (a Noise client reads the 0x00 as "plaintext device"); a bad length is not answered
    assert codec.take_output() == (BAD_INDICATOR_REPLY if wire[0] else b"")


def test_decode_refuses_unknown_types_and_bad_payloads() -> None:
    hello = pb.HelloRequest(client_info="x")
    assert decode(Frame(type_of(hello), hello.SerializeToString())) == hello
    with pytest.raises(ProtocolError, match="unknown message type 60000"):
        decode(Frame(60000, b""))
    with pytest.raises(ProtocolError, match="bad HelloRequest payload"):
        decode(Frame(type_of(hello), b"\xff\xff"))


def _frame(body: bytes) -> bytes:
    return bytes((0x01, len(body) >> 8, len(body) & 0xFF)) + body


def _frames(data: bytes) -> list[bytes]:
    out = []
    while data:
        size = (data[1] << 8) | data[2]
        out.append(data[3 : 3 + size])
        data = data[3 + size :]
    return out


def test_noise_responder_against_aioesphomeapis_initiator() -> None:
    client = NoiseHandshake(KEY, PROLOGUE)
    server = NoiseCodec(decode_key(KEY), "kitchen", "aabbccddeeff")
    assert server.feed(b"\x01\x00\x00" + _frame(b"\x00" + client.write_message())) == []
    hello, handshake = _frames(server.take_output())
    assert hello == b"\x01kitchen\x00aabbccddeeff\x00"
    assert handshake[0] == 0
    client.read_message(handshake[1:])
    encrypt, decrypt = client.get_ciphers()
    # client → device
    ping = encrypt.encrypt(struct.pack(">HH", 7, 3) + b"abc")
    assert server.feed(_frame(ping)) == [Frame(7, b"abc")]
    # device → client
    (sealed,) = _frames(server.encode(8, b"pong"))
    assert decrypt.decrypt(sealed) == struct.pack(">HH", 8, 4) + b"pong"
    # a tampered frame is refused
    with pytest.raises(ProtocolError, match="did not decrypt"):
        server.feed(_frame(b"\x00" * 24))


def test_noise_with_the_wrong_key_says_so_to_both_sides() -> None:
    client = NoiseHandshake("A" * 43 + "=", PROLOGUE)
    server = NoiseCodec(decode_key(KEY), "kitchen", "aabbccddeeff")
    with pytest.raises(ProtocolError, match="wrong encryption key"):
        server.feed(b"\x01\x00\x00" + _frame(b"\x00" + client.write_message()))
    assert _frames(server.take_output())[-1] == b"\x01Handshake MAC failure"


@pytest.mark.parametrize(
    ("wire", "reject", "reason"),
    [
        # a plaintext HelloRequest: ESPHome's reject starts with 0x01, which a plaintext
        # client reads as "encryption required" (RequiresEncryptionAPIError)
        (encode_plaintext(1, b"\x0a\x02ha"), b"\x01Bad indicator byte", "requires encryption"),
        (b"GET / HTTP/1.1", b"\x01Bad indicator byte", "bad frame preamble 0x47"),
        (b"\x01\x00\x00" + _frame(b""), b"\x01Empty handshake message", "Empty handshake"),
        (b"\x01\x00\x00" + _frame(b"\x05x"), b"\x01Bad handshake error byte", "error byte"),
        (b"\x01\x00\x00\x01\x10\x00", b"\x01Bad handshake packet len", "packet len"),
        (b"\x01\x00\x00" + _frame(b"\x00" + bytes(10)), b"\x01Handshake error", "Handshake err"),
    ],
)
def test_noise_refuses_like_esphome_with_its_reject_frame(
    wire: bytes, reject: bytes, reason: str
) -> None:
    server = NoiseCodec(decode_key(KEY), "kitchen", "aabbccddeeff")
    with pytest.raises(ProtocolError, match=reason):
        server.feed(wire)
    assert _frames(server.take_output())[-1] == reject
    assert server.feed(b"more") == []  # refused once; the owner closes the connection


@pytest.mark.parametrize("key", ["", "not base64!", "c2hvcnQ="])
def test_bad_encryption_keys(key: str) -> None:
    with pytest.raises(ConfigError, match="encryption_key"):
        decode_key(key)


def _wav(pcm: np.ndarray, rate: int, channels: int = 1, width: int = 2) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


def test_wav_answers_are_read_even_when_streamed_with_an_open_ended_size() -> None:
    tone = (np.sin(np.arange(16000) / 5) * 8000).astype(np.int16)
    data = _wav(tone, 16000)
    assert len(pcm_from_wav(data, 16000)) == 32000
    streamed = bytearray(data)
    streamed[40:44] = b"\xff\xff\xff\xff"  # the data size HA's streaming TTS cannot know
    assert len(pcm_from_wav(bytes(streamed), 16000)) == 32000
    stereo = np.repeat(tone, 2)
    assert len(pcm_from_wav(_wav(stereo, 16000, channels=2), 8000)) == 16000
    with pytest.raises(MediaError, match="without audio data"):
        pcm_from_wav(data[:36], 16000)


def test_media_urls() -> None:
    base = "http://192.168.1.5:8123"
    assert absolute_url("/api/tts_proxy/a.wav", base) == f"{base}/api/tts_proxy/a.wav"
    assert absolute_url("http://x/y.wav", base) == "http://x/y.wav"
    with pytest.raises(MediaError, match="only http"):
        absolute_url("file:///etc/passwd", base)


def test_mac_addresses(tmp_path: Path) -> None:
    assert normalise_mac("AA-BB-CC-DD-EE-0F") == "aa:bb:cc:dd:ee:0f"
    with pytest.raises(ConfigError, match="mac"):
        normalise_mac("aa:bb")
    # chosen once, then kept: HA knows the device by it
    first = stable_mac(tmp_path)
    assert (tmp_path / "homeassistant-mac").read_text().strip() == first
    (tmp_path / "homeassistant-mac").write_text("02:00:00:00:00:2a\n")
    assert stable_mac(tmp_path) == "02:00:00:00:00:2a"
    assert int(machine_mac().split(":")[0], 16) & 1 == 0  # never a multicast address


def test_with_the_satellite_mqtt_discovery_joins_its_device_and_drops_its_entities() -> None:
    t = Topics.for_device("kitchen")
    msgs = {
        m.topic.split("/", 1)[1]: m.payload
        for m in discovery_messages(t, "kitchen", "K", "aa:bb:cc:dd:ee:ff")
    }
    for gone in ("sensor/rtvi_edge_kitchen/assist_state", "switch/rtvi_edge_kitchen/mute",
                 "number/rtvi_edge_kitchen/volume"):  # fmt: skip
        assert msgs.pop(f"{gone}/config") == ""  # removed: the ESPHome entities replace them
    assert len(msgs) == 7
    for payload in msgs.values():
        device = json.loads(payload)["device"]
        assert device["connections"] == [["mac", "aa:bb:cc:dd:ee:ff"]]
        assert device["identifiers"] == ["rtvi-edge-kitchen"]

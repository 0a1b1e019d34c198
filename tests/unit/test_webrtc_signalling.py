"""SmallWebRTC's signalling, sans I/O: offers, candidates, data-channel messages; and the
protocol core speaking JSON (the data channel's wire) instead of protobuf frames."""

from __future__ import annotations

import json

import pytest

from rtvi_edge.rtvi.protocol import RequestIn, RtviProtocol
from rtvi_edge.rtvi.webrtc import signalling as sig

SDP = (
    "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=fingerprint:sha-256 AA:BB\r\n"
    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"
)


def test_an_offer_is_parsed_with_pipecats_field_names() -> None:
    offer = sig.parse_offer({"sdp": SDP, "type": "offer", "pc_id": "abc_1", "restart_pc": True})
    assert offer == sig.Offer(SDP, "abc_1", True)
    assert sig.parse_offer({"sdp": SDP, "type": "offer", "pc_id": None}).pc_id is None
    assert sig.parse_offer({"sdp": SDP, "type": "offer", "pcId": "x"}).pc_id == "x"


@pytest.mark.parametrize(
    ("body", "says", "status"),
    [
        ([], "JSON object", 400),
        ({"sdp": SDP, "type": "answer"}, "'offer'", 400),
        ({"sdp": "", "type": "offer"}, "SDP text", 400),
        ({"sdp": "x" * 70000, "type": "offer"}, "over", 413),
        ({"sdp": "hello", "type": "offer"}, "v=0", 400),
        ({"sdp": SDP.replace("m=audio", "m=video"), "type": "offer"}, "no audio", 400),
        ({"sdp": SDP.split("m=application")[0], "type": "offer"}, "no data channel", 400),
        ({"sdp": SDP.replace("a=fingerprint", "a=x"), "type": "offer"}, "fingerprint", 400),
        ({"sdp": SDP, "type": "offer", "pc_id": "../etc"}, "pc_id", 400),
        ({"sdp": SDP, "type": "offer", "restart_pc": "yes"}, "restart_pc", 400),
    ],
)
def test_bad_offers_say_what_is_wrong(body: object, says: str, status: int) -> None:
    with pytest.raises(sig.SignallingError, match=says) as caught:
        sig.parse_offer(body)
    assert caught.value.status == status


def test_candidates_are_checked_one_by_one() -> None:
    good = {"candidate": "candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host", "sdp_mid": "0"}
    pc_id, parsed = sig.parse_candidates({"pc_id": "p", "candidates": [good, {"candidate": ""}]}, 8)
    assert (
        pc_id == "p" and parsed[0].candidate.startswith("candidate:1") and parsed[1].candidate == ""
    )
    with pytest.raises(sig.SignallingError, match="pc_id is missing"):
        sig.parse_candidates({"candidates": []}, 8)
    with pytest.raises(sig.SignallingError, match="more than 2") as caught:
        sig.parse_candidates({"pc_id": "p", "candidates": [good] * 3}, 2)
    assert caught.value.status == 413
    for bad, says in [
        ({"candidate": "rm -rf /"}, "not an ICE candidate"),
        ({"candidate": 5}, "string"),
        ({**good, "sdp_mline_index": True}, "integer"),
        ({**good, "sdp_mline_index": 999}, "out of range"),
        ("x", "object"),
    ]:
        with pytest.raises(sig.SignallingError, match=says):
            sig.parse_candidates({"pc_id": "p", "candidates": [bad]}, 8)


def test_data_channel_messages_are_told_apart() -> None:
    assert isinstance(sig.classify("ping: 1700000000000"), sig.Ping)
    status = {
        "type": "signalling",
        "message": {"type": "trackStatus", "receiver_index": 0, "enabled": False},
    }
    assert sig.classify(json.dumps(status)) == sig.TrackStatus(0, False)
    assert isinstance(
        sig.classify(json.dumps({"type": "signalling", "message": {"type": "x"}})), sig.Unusable
    )
    rtvi = json.dumps({"label": "rtvi-ai", "type": "client-ready", "id": "1", "data": {}})
    assert sig.classify(rtvi) == sig.RtviText(rtvi)
    assert sig.classify("{not json") == sig.RtviText("{not json")  # the core answers it
    assert json.loads(sig.signalling("peerLeft")) == {
        "type": "signalling",
        "message": {"type": "peerLeft"},
    }


def test_the_protocol_core_speaks_json_on_a_data_channel() -> None:
    p = RtviProtocol(1 << 20, wire="json")
    inbound = p.receive(
        json.dumps(
            {"label": "rtvi-ai", "type": "client-ready", "id": "r", "data": {"version": "2.1.0"}}
        )
    )
    assert isinstance(inbound[0], RequestIn)
    p.bot_ready("r", [])
    p.receive("{broken")
    out = p.take()
    assert all(isinstance(o, str) for o in out)
    ready, error = (json.loads(o) for o in out)
    assert ready["type"] == "bot-ready" and ready["id"] == "r" and ready["label"] == "rtvi-ai"
    assert error["type"] == "error-response"


@pytest.mark.parametrize(
    "address", ["192.168.1.20", "fe80::1", "3b1c2f7e-8c1a-4c1e-9e0f-0a1b2c3d4e5f.local"]
)
def test_candidate_addresses_are_ips_or_mdns_names(address: str) -> None:
    text = f"candidate:9 1 udp 1 {address} 5000 typ host generation 0"
    assert sig.parse_candidates({"pc_id": "p", "candidates": [{"candidate": text}]}, 8)[1]
    with pytest.raises(sig.SignallingError, match="not an ICE candidate"):
        bad = text.replace(address, "evil.example.com")
        sig.parse_candidates({"pc_id": "p", "candidates": [{"candidate": bad}]}, 8)


def test_the_answers_audio_codec() -> None:
    answer = (
        "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111 0\r\na=rtpmap:0 PCMU/8000\r\n"
        "a=rtpmap:111 opus/48000/2\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"
    )
    assert sig.audio_codec(answer) == "opus"
    assert sig.audio_codec(answer.replace("111 0", "0 111")) == "pcmu"
    assert sig.audio_codec("v=0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n") is None

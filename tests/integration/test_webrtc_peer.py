"""SmallWebRTC with aiortc as a second, Python peer: the daemon over fake engines, real
WebRTC on 127.0.0.1 (ICE, DTLS, SCTP, Opus). Renegotiation, a new peer connection for
the same session, trickled ICE, a peer that vanishes, ICE that never connects, bad
offers and candidates, the /start handshake, pairing and admission. The device's peer
connections run on its media loop thread: its tasks are counted there, and the thread
is joined when the daemon stops."""

from __future__ import annotations

import asyncio
import json
import random
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import psutil
import pytest

from bench.webrtc_client import PythonPeer
from rtvi_edge.daemon import Daemon
from rtvi_edge.rtvi.webrtc.media_loop import THREAD_NAME
from tests.fakes import RATE, FakeTts, fake_engines
from tests.integration.daemon_harness import running_daemon

pytestmark = pytest.mark.integration

WEBRTC = {"host_addresses": ["127.0.0.1"]}


class ToneTts(FakeTts):
    """The fake voice, loud enough to survive Opus (the default one is a DC offset of 1)."""

    def synthesize(self, text: str, speed: float) -> Iterator[bytes]:
        self.spoken.append(text)
        t = np.arange(max(RATE // 10, int(len(text) * self.secs_per_char * RATE))) / RATE
        yield (np.sin(2 * np.pi * 330 * t) * 8000).astype(np.int16).tobytes()


@asynccontextmanager
async def daemon_and_http(
    tmp_path: Path, **sections: dict[str, Any]
) -> AsyncIterator[tuple[Daemon, aiohttp.ClientSession, str]]:
    sections = {"webrtc": {**WEBRTC, **sections.pop("webrtc", {})}, **sections}
    engines = fake_engines(tts=ToneTts(secs_per_char=0.02))
    async with (
        running_daemon(tmp_path, engines, **sections) as daemon,
        aiohttp.ClientSession() as http,
    ):
        yield daemon, http, f"http://127.0.0.1:{daemon.rtvi.port}"
    assert not [t for t in threading.enumerate() if t.name == THREAD_NAME]  # joined


async def _webrtc_tasks(daemon: Daemon) -> list[str]:
    """The device's WebRTC tasks left, on the daemon's loop and on the media loop."""

    async def on_media_loop() -> list[asyncio.Task[Any]]:
        return list(asyncio.all_tasks())

    media = daemon.rtvi.webrtc._media
    tasks = list(asyncio.all_tasks()) + (await media.run(on_media_loop()) if media else [])
    return [t.get_name() for t in tasks if t.get_name().startswith("webrtc-")]


async def answer_to(peer: PythonPeer, text: str, msg_id: str) -> str:
    peer.send("send-text", {"content": text}, msg_id)
    said: list[str] = []
    async with asyncio.timeout(20):
        while (msg := await peer.messages.get())["type"] != "bot-stopped-speaking":
            if msg["type"] == "bot-llm-text":
                said.append(msg["data"]["text"])
    return "".join(said)


async def until_gone(daemon: Daemon, secs: float) -> float:
    """Seconds until no session, slot or peer is left (bounded by `secs`)."""
    start = time.monotonic()
    rtvi = daemon.rtvi
    while rtvi.sessions or rtvi.slots.ready or rtvi.slots.waiting or rtvi.webrtc.peers:
        if time.monotonic() - start > secs:
            break
        await asyncio.sleep(0.1)
    return time.monotonic() - start


async def test_a_turn_renegotiation_and_a_new_peer_connection(tmp_path: Path) -> None:
    async with daemon_and_http(tmp_path) as (daemon, http, base):
        udp_before = _udp_sockets()
        peer = PythonPeer(http, base)
        try:
            ready = await peer.connect()
            assert ready["data"]["version"] == "2.1.0"
            session = next(iter(daemon.rtvi.sessions.values()))
            assert session.session_id.startswith("webrtc-") and session.protocol.wire == "json"
            start = time.monotonic()
            assert await answer_to(peer, "hello bot", "t1") == "You said hello bot."
            await asyncio.sleep(0.3)  # the last frames of the answer, through the jitter buffer
            assert peer.loud_frames(start) >= 5  # the voice came as Opus on the track
            # encoded by the device's track itself, not in aiortc's thread pool; the
            # user's voice decoded after 2 packets, not aiortc's 4
            device = daemon.rtvi.webrtc.peers[peer.pc_id]
            assert device.bot_track.encodes_opus and device.short_listen_buffer

            pc_id = peer.pc_id
            again = await peer.renegotiate()  # same peer connection, a new offer
            assert again["pc_id"] == pc_id and again["type"] == "answer"
            assert await answer_to(peer, "still there", "t2") == "You said still there."

            await peer.restart()  # a new peer connection, the same session
            assert peer.pc_id == pc_id and len(daemon.rtvi.sessions) == 1
            assert daemon.rtvi.webrtc.peers[pc_id].bot_track.encodes_opus
            start = time.monotonic()
            assert await answer_to(peer, "after restart", "t3") == "You said after restart."
            await asyncio.sleep(0.3)
            assert peer.loud_frames(start) >= 5
        finally:
            await peer.close()
        assert await until_gone(daemon, 10) < 10
        await asyncio.sleep(0.2)
        assert _udp_sockets() <= udp_before  # the replaced connection's sockets too


async def test_trickled_ice_candidates(tmp_path: Path) -> None:
    async with daemon_and_http(tmp_path) as (daemon, http, base):
        peer = PythonPeer(http, base)
        try:
            await peer.connect(trickle=True)  # the offer has no candidates: PATCH brings them
            assert await answer_to(peer, "trickled", "t1") == "You said trickled."
            assert daemon.rtvi.webrtc.peers[peer.pc_id].candidates_taken >= 1
        finally:
            await peer.close()


async def test_a_peer_that_vanishes_frees_its_slot_within_10_s(tmp_path: Path) -> None:
    async with daemon_and_http(tmp_path) as (daemon, http, base):
        udp_before = _udp_sockets()
        peer = PythonPeer(http, base)
        try:
            await peer.connect()
            assert len(daemon.rtvi.slots.ready) == 1
            peer.vanish()  # no goodbye, no pings, no packets
            assert await until_gone(daemon, 10) < 10
        finally:
            await peer.close()
        await asyncio.sleep(0.2)
        assert _udp_sockets() <= udp_before  # the device's RTP sockets are closed too
        assert not await _webrtc_tasks(daemon)
        # and the device still serves
        fresh = PythonPeer(http, base)
        try:
            await fresh.connect()
        finally:
            await fresh.close()


async def test_ice_that_never_connects_frees_the_slot(tmp_path: Path) -> None:
    async with daemon_and_http(tmp_path, rtvi={"ready_timeout_secs": 2.0}) as (daemon, http, base):
        udp_before = _udp_sockets()
        peer = PythonPeer(http, base)
        try:
            await peer.pc.setLocalDescription(await peer.pc.createOffer())
            peer.vanish()  # its sockets are shut before the device can reach them
            body = {"sdp": peer.pc.localDescription.sdp, "type": "offer"}
            async with http.post(f"{base}/api/offer", json=body) as r:
                assert r.status == 200
            assert len(daemon.rtvi.slots.waiting) == 1
            assert await until_gone(daemon, 10) < 10  # the client-ready deadline
        finally:
            await peer.close()
        await asyncio.sleep(0.2)
        assert _udp_sockets() <= udp_before
        assert not await _webrtc_tasks(daemon)
        assert not daemon.rtvi.webrtc._tasks


async def test_restart_after_the_session_ended_is_a_new_session(tmp_path: Path) -> None:
    """pipecat's client restarts with its old pc_id after lost ICE, maybe after the device
    gave up on it: like pipecat, the device starts a new session (4xx would stop the client
    for good), paired if the old one was."""
    rtvi = {"token": "s3cret", "trust_loopback": False}
    async with daemon_and_http(tmp_path, rtvi=rtvi) as (daemon, http, base):
        async with http.post(f"{base}/webrtc/start", json={"token": "s3cret"}) as r:
            sid = (await r.json())["sessionId"]
        peer = PythonPeer(http, base, f"/webrtc/sessions/{sid}/api/offer")
        try:
            await peer.connect()
            old = peer.pc_id
            peer.vanish()
            assert await until_gone(daemon, 10) < 10
            answer = await peer.restart()  # the same URL: its session id is used up
            assert answer["pc_id"] != old
            peer.send("client-ready", {"version": "2.1.0", "about": {"library": "aiortc"}}, "r2")
            await peer.until("bot-ready")
            session = next(iter(daemon.rtvi.sessions.values()))
            assert session.paired  # the ended session's pairing carried over
            assert await answer_to(peer, "back again", "t1") == "You said back again."
            # a renegotiation (no restart) of a pc_id the device does not know is refused
            body = {"sdp": peer.pc.localDescription.sdp, "type": "offer", "pc_id": old}
            async with http.post(f"{base}/api/offer", json=body) as r:
                assert r.status == 404
        finally:
            await peer.close()
        assert await until_gone(daemon, 10) < 10


async def test_track_status_and_peer_left(tmp_path: Path) -> None:
    async with daemon_and_http(tmp_path) as (daemon, http, base):
        peer = PythonPeer(http, base)
        try:
            await peer.connect()
            device_side = daemon.rtvi.webrtc.peers[peer.pc_id]
            for enabled in (False, True):
                status = {"type": "trackStatus", "receiver_index": 0, "enabled": enabled}
                peer.channel.send(json.dumps({"type": "signalling", "message": status}))
                async with asyncio.timeout(5):
                    while device_side.mic_enabled is not enabled:
                        await asyncio.sleep(0.05)
            # the device hangs up (here: the client's disconnect-bot): peerLeft comes first
            peer.send("disconnect-bot", None, "bye")
            async with asyncio.timeout(5):
                while {"type": "peerLeft"} not in peer.signalling:
                    await asyncio.sleep(0.05)
            assert await until_gone(daemon, 10) < 10
        finally:
            await peer.close()


async def test_a_fixed_udp_port_range(tmp_path: Path) -> None:
    low = random.randrange(20000, 30000, 10)  # below Linux's ephemeral ports
    webrtc = {"port_min": low, "port_max": low + 1}  # one address: one port per session
    async with daemon_and_http(tmp_path, webrtc=webrtc) as (daemon, http, base):
        peers = [PythonPeer(http, base) for _ in range(3)]
        try:
            for peer in peers[:2]:
                answer = await peer.connect()
                assert answer["type"] == "bot-ready"
                ports = _candidate_ports(peer.pc.remoteDescription.sdp)
                assert ports and all(low <= p <= low + 1 for p in ports)
            assert await answer_to(peers[0], "in range", "t1") == "You said in range."
            # the range is full: a clear 503, and the device goes on serving
            third = peers[2]
            await third.pc.setLocalDescription(await third.pc.createOffer())
            body = {"sdp": third.pc.localDescription.sdp, "type": "offer"}
            async with http.post(f"{base}/api/offer", json=body) as r:
                assert r.status == 503 and "UDP port" in (await r.json())["error"]
            # a session that ends gives its port back
            await peers[0].close()
            async with asyncio.timeout(10):
                while len(daemon.rtvi.webrtc.peers) > 1:
                    await asyncio.sleep(0.1)
            fresh = PythonPeer(http, base)
            peers.append(fresh)
            await fresh.connect()
            assert all(
                low <= p <= low + 1 for p in _candidate_ports(fresh.pc.remoteDescription.sdp)
            )
        finally:
            for peer in peers:
                await peer.close()
        assert await until_gone(daemon, 10) < 10


def _candidate_ports(sdp: str) -> list[int]:
    """The ports of an SDP's host candidates."""
    out = []
    for line in sdp.splitlines():
        if line.startswith("a=candidate:") and " typ host" in line:
            out.append(int(line.split()[5]))
    return out


async def test_bad_offers_and_candidates_get_clear_errors(tmp_path: Path) -> None:
    async with daemon_and_http(tmp_path, webrtc={"max_candidates": 4}) as (_daemon, http, base):
        offer = f"{base}/api/offer"

        async def post(body: Any, method: str = "POST", url: str = offer) -> tuple[int, str]:
            kwargs: dict[str, Any] = {"data": body} if isinstance(body, str) else {"json": body}
            async with http.request(method, url, **kwargs) as r:
                return r.status, (await r.json()).get("error", "")

        assert (await post("not json"))[0] == 400
        assert "must start with v=0" in (await post({"sdp": "hello", "type": "offer"}))[1]
        assert "'offer'" in (await post({"sdp": "v=0", "type": "answer"}))[1]
        no_audio = await _offer_without_audio()
        assert "no audio" in (await post({"sdp": no_audio, "type": "offer"}))[1]
        broken = "v=0\r\nm=audio 9 UDP 0\r\nm=application 9\r\na=fingerprint:sha-256 x\r\n"
        status, why = await post({"sdp": broken, "type": "offer"})
        assert status == 400 and "cannot use this offer" in why
        assert (await post({"sdp": "v=0", "type": "offer", "pc_id": {"x": 1}}))[0] == 400
        good = await _good_offer()
        status, why = await post({"sdp": good, "type": "offer", "pc_id": "nope"})
        assert status == 404 and "unknown pc_id" in why
        assert (await post({"pc_id": "nope", "candidates": []}, "PATCH"))[0] == 404
        assert (await post({"candidates": []}, "PATCH"))[0] == 400
        status, why = await post({"sdp": good, "type": "offer"}, url=f"{base}/sessions/x/api/offer")
        assert status == 404 and "/start" in why

        peer = PythonPeer(http, base)
        try:
            await peer.connect()
            cand = {"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host", "sdp_mid": "0"}
            flood = {"pc_id": peer.pc_id, "candidates": [cand] * 5}
            assert (await post(flood, "PATCH"))[0] == 413
            garbage = {"pc_id": peer.pc_id, "candidates": [{"candidate": "rm -rf /"}]}
            assert "not an ICE candidate" in (await post(garbage, "PATCH"))[1]
            few = {"pc_id": peer.pc_id, "candidates": [cand] * 3}
            assert (await post(few, "PATCH", offer), await post(few, "PATCH", offer))[1][0] == 429
            # the session lived through all of it
            assert await answer_to(peer, "fine", "t1") == "You said fine."
        finally:
            await peer.close()


async def test_a_webrtc_stack_that_cannot_load_is_a_clear_503(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """aiortc & co. are imported at the first offer: a broken install fails that offer with
    a 503 that says so, the daemon serves on, and a later offer loads it."""
    async with daemon_and_http(tmp_path) as (_daemon, http, base):
        good = await _good_offer()
        with monkeypatch.context() as broken:
            broken.setitem(sys.modules, "rtvi_edge.rtvi.webrtc.peer", None)  # import fails
            async with http.post(f"{base}/api/offer", json={"sdp": good, "type": "offer"}) as r:
                assert r.status == 503
                assert "WebRTC is unavailable" in (await r.json())["error"]
        async with http.get(f"{base}/health") as r:
            assert r.status == 200
        peer = PythonPeer(http, base)
        try:
            await peer.connect()
            assert await answer_to(peer, "fine", "t1") == "You said fine."
        finally:
            await peer.close()


async def test_start_pairing_and_admission(tmp_path: Path) -> None:
    rtvi = {"token": "s3cret", "trust_loopback": False, "max_sessions": 1}
    async with daemon_and_http(tmp_path, rtvi=rtvi) as (daemon, http, base):
        async with http.post(f"{base}/start", json={"transport": "webrtc"}) as r:
            reply = await r.json()
            # as pipecat: no iceConfig without servers ([] would replace the client's own)
            assert set(reply) == {"sessionId"}
        async with http.post(f"{base}/start", json={}) as r:
            assert "wsUrl" in await r.json()  # the WebSocket clients' answer is unchanged
        async with http.post(f"{base}/webrtc/start", json={"token": "wrong"}) as r:
            assert r.status == 401
        sids = []
        for _ in range(2):
            async with http.post(f"{base}/webrtc/start", json={"token": "s3cret"}) as r:
                sids.append((await r.json())["sessionId"])
        sid, later = sids
        peer = PythonPeer(http, base, f"/webrtc/sessions/{sid}/api/offer")
        second = PythonPeer(http, base)
        third = PythonPeer(http, base, f"/webrtc/sessions/{later}/api/offer")
        try:
            await peer.connect()
            assert next(iter(daemon.rtvi.sessions.values())).paired  # the token came with /start
            await second.pc.setLocalDescription(await second.pc.createOffer())
            body = {"sdp": second.pc.localDescription.sdp, "type": "offer"}
            async with http.post(f"{base}/api/offer", json=body) as r:
                assert r.status == 503 and "1 sessions" in (await r.json())["error"]
            async with http.post(f"{base}/webrtc/sessions/{sid}/api/offer", json=body) as r:
                assert r.status == 404  # a session id is good for one peer
            async with http.post(f"{base}/webrtc/sessions/{later}/api/offer", json=body) as r:
                assert r.status == 503  # full: refused, but the session id is not used up
            await peer.close()
            assert await until_gone(daemon, 10) < 10
            await third.connect()  # as the client retries after a 5xx
            assert next(iter(daemon.rtvi.sessions.values())).paired
        finally:
            await peer.close()
            await second.close()
            await third.close()


async def _offer_without_audio() -> str:
    from aiortc import RTCConfiguration, RTCPeerConnection

    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.createDataChannel("chat")
    await pc.setLocalDescription(await pc.createOffer())
    sdp: str = pc.localDescription.sdp
    await pc.close()
    return sdp


async def _good_offer() -> str:
    from aiortc import RTCConfiguration, RTCPeerConnection

    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver("audio")
    pc.createDataChannel("chat")
    await pc.setLocalDescription(await pc.createOffer())
    sdp: str = pc.localDescription.sdp
    await pc.close()
    return sdp


def _udp_sockets() -> int:
    return len(psutil.Process().net_connections(kind="udp"))

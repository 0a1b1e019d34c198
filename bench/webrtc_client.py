"""A SmallWebRTC client in Python (aiortc) for the tests and the bench: pipecat's
signalling over HTTP and RTVI as JSON on a data channel, like the official JS one.

Its microphone plays what `say()` queues (then silence), and notes when the last
queued sample went out; what the device says arrives on `heard` (RMS per 20 ms
frame, with arrival times)."""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import json
import time
from typing import Any

import aiohttp
import numpy as np
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError
from av import AudioFrame

RATE = 48000
FRAME = 960  # 20 ms


class MicTrack(MediaStreamTrack):
    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self.queue = bytearray()
        self.said_at: float | None = None  # when the last queued sample went out
        self._start: float | None = None
        self._pts = 0

    def say(self, pcm48k: bytes) -> None:
        self.queue += pcm48k
        self.said_at = None

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        now = time.monotonic()
        if self._start is None:
            self._start = now
        wait = self._start + self._pts / RATE - now
        if wait > 0:
            await asyncio.sleep(wait)
        chunk = bytes(self.queue[: FRAME * 2]).ljust(FRAME * 2, b"\0")
        had = bool(self.queue)
        del self.queue[: FRAME * 2]
        if had and not self.queue:
            self.said_at = time.monotonic()
        frame = AudioFrame(format="s16", layout="mono", samples=FRAME)
        frame.planes[0].update(chunk)
        frame.pts, frame.sample_rate, frame.time_base = self._pts, RATE, fractions.Fraction(1, RATE)
        self._pts += FRAME
        return frame


def tone(secs: float, hz: float = 440.0) -> bytes:
    t = np.arange(int(secs * RATE)) / RATE
    return (np.sin(2 * np.pi * hz * t) * 8000).astype(np.int16).tobytes()


class PythonPeer:
    def __init__(self, http: aiohttp.ClientSession, base: str, offer_path: str = "/api/offer"):
        self.http = http
        self.base = base
        self.offer_url = base + offer_path
        self.pc_id: str | None = None
        # No ICE servers (aiortc would ask Google's STUN server): host candidates only;
        # the daemon's [webrtc] host_addresses keeps them on 127.0.0.1 in this process.
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.mic = MicTrack()
        self.messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.signalling: list[dict[str, Any]] = []
        self.heard: list[tuple[float, float]] = []  # (arrival, rms) of the device's voice
        self.pinging = True
        self._tasks: list[asyncio.Task[None]] = []
        self.channel_open = asyncio.Event()
        self._setup(self.pc)

    def _setup(self, pc: RTCPeerConnection) -> None:
        pc.addTransceiver(self.mic, direction="sendrecv")
        self.channel = pc.createDataChannel("chat", ordered=True)
        self.channel.on("open", self.channel_open.set)

        @self.channel.on("message")
        def on_message(message: str | bytes) -> None:
            obj = json.loads(message)
            if obj.get("type") == "signalling":
                self.signalling.append(obj["message"])
            else:
                self.messages.put_nowait(obj)

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            self._tasks.append(asyncio.create_task(self._listen(track)))

    async def _listen(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                if not isinstance(frame, AudioFrame):
                    continue
                pcm = frame.to_ndarray().astype(np.float64)
                self.heard.append((time.monotonic(), float(np.sqrt(np.mean(pcm * pcm)))))

    async def _offer(self, restart: bool = False, trickle: bool = False) -> dict[str, Any]:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        sdp = self.pc.localDescription.sdp
        candidates: list[str] = []
        if trickle:  # send the offer bare, the candidates afterwards by PATCH
            lines = sdp.splitlines()
            candidates = [ln[2:] for ln in lines if ln.startswith("a=candidate:")]
            later = ("a=candidate:", "a=end-of-candidates")
            sdp = "\r\n".join(ln for ln in lines if not ln.startswith(later)) + "\r\n"
        body = {"sdp": sdp, "type": "offer", "pc_id": self.pc_id, "restart_pc": restart}
        async with self.http.post(self.offer_url, json=body) as r:
            answer: dict[str, Any] = await r.json()
            assert r.status == 200, answer
        self.pc_id = answer["pc_id"]
        await self.pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))
        if trickle:
            patch = {
                "pc_id": self.pc_id,
                "candidates": [
                    {"candidate": c, "sdp_mid": "0", "sdp_mline_index": 0} for c in candidates
                ],
            }
            async with self.http.patch(self.offer_url, json=patch) as r:
                assert r.status == 200, await r.text()
        return answer

    async def connect(self, trickle: bool = False) -> dict[str, Any]:
        """Offer, answer, data channel open, client-ready → bot-ready (returned)."""
        await self._offer(trickle=trickle)
        await asyncio.wait_for(self.channel_open.wait(), 20)
        self._tasks.append(asyncio.create_task(self._ping()))
        self.send("client-ready", {"version": "2.1.0", "about": {"library": "aiortc"}}, "r1")
        return await self.until("bot-ready")

    async def renegotiate(self) -> dict[str, Any]:
        """A new offer on the same peer connection (what `renegotiate` asks for)."""
        return await self._offer()

    async def restart(self) -> dict[str, Any]:
        """A new peer connection for the same session (restart_pc), as after lost ICE."""
        old = self.pc
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.mic = MicTrack()
        self.channel_open = asyncio.Event()
        self._setup(self.pc)
        answer = await self._offer(restart=True)
        await old.close()
        await asyncio.wait_for(self.channel_open.wait(), 20)
        return answer

    def send(self, mtype: str, data: Any = None, msg_id: str = "1") -> None:
        self.channel.send(
            json.dumps({"label": "rtvi-ai", "type": mtype, "id": msg_id, "data": data})
        )

    async def until(self, mtype: str, timeout: float = 20) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                msg = await self.messages.get()
                if msg["type"] == mtype:
                    return msg

    async def _ping(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            if self.pinging and self.channel.readyState == "open":
                self.channel.send(f"ping: {int(time.time() * 1000)}")

    def vanish(self) -> None:
        """Gone without a word: no more pings, and every UDP socket shut at once."""
        self.pinging = False
        for transport in self._ice_transports():
            for protocol in transport._connection._protocols:
                protocol.transport.close()

    def _ice_transports(self) -> list[Any]:
        return [t.sender.transport.transport for t in self.pc.getTransceivers()]

    def loud_frames(self, since: float = 0.0, threshold: float = 300.0) -> int:
        return sum(1 for at, rms in self.heard if at >= since and rms > threshold)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.pc.close()

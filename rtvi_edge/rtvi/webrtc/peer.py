"""One SmallWebRTC client: an aiortc peer connection as an RTVI session's `Link`.

RTVI messages ride the client's data channel as JSON text; the user's voice
and the bot's are Opus tracks beside it. The peer connection may be replaced
(`restart_pc`) or renegotiated while the session goes on. The peer is gone
(the session ends and frees its slot) when the connection fails or closes,
when the data channel closes, or when, once its data channel is open, the
client sends nothing (pings, messages, its microphone's packets) for
`peer_timeout_secs`: a phone that lost Wi-Fi closes nothing, and ICE would
notice only after ~30 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCDataChannel,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.sdp import candidate_from_sdp

from rtvi_edge.rtvi.protocol import Outgoing
from rtvi_edge.rtvi.webrtc import signalling as sig
from rtvi_edge.rtvi.webrtc.audio import BotAudioTrack, read_microphone, shorten_receive_buffer
from rtvi_edge.rtvi.webrtc.ports import device_sockets

if TYPE_CHECKING:
    from rtvi_edge.rtvi.session import RtviSession

log = logging.getLogger(__name__)

INBOX_LIMIT = 256  # RTVI messages not yet read by the session
CHANNEL_BUFFER_LIMIT = 4 << 20  # bytes the client has not taken: it is not reading
PENDING_LIMIT = 50  # messages kept while a restarted connection's channel opens (as pipecat)


class WebRtcPeer:
    def __init__(
        self,
        pc_id: str,
        ice_servers: list[RTCIceServer],
        output_rate: int,
        peer_timeout: float,
    ) -> None:
        self.pc_id = pc_id
        self.name = pc_id  # the session id, once there is a session
        self.output_rate = output_rate
        self.bot_track = BotAudioTrack(output_rate)  # a new one with each peer connection
        self.session: RtviSession | None = None
        self.client_id: str | None = None  # what the client called itself, if anything
        self.candidates_taken = 0
        self.mic_enabled = True
        self.short_listen_buffer = False  # the user's voice decoded on arrival, not after 80 ms
        self._ice_servers = ice_servers
        self._peer_timeout = peer_timeout
        self._pc: RTCPeerConnection | None = None
        self._channel: RTCDataChannel | None = None
        self._pending: deque[str] = deque(maxlen=PENDING_LIMIT)  # for the next channel
        self._inbox: asyncio.Queue[str | bytes | None] = asyncio.Queue(INBOX_LIMIT + 1)
        self._last_life: float | None = None  # the last ping or mic frame
        self._gone = False
        self._closed = False
        self._mic_task: asyncio.Task[None] | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self.lock = asyncio.Lock()  # one offer at a time per peer

    # -- negotiation ---------------------------------------------------------------------
    async def answer(self, sdp: str, restart: bool = False) -> str:
        """The SDP answer to an offer: the first, a renegotiation, or a new connection."""
        if self._closed:
            raise ConnectionError("this peer is closed")
        if restart or self._pc is None:
            old, self._pc = self._pc, self._new_pc()
            if old is not None:
                log.info("session %s: the client restarts its peer connection", self.name)
                # The old channel's close is not the client leaving; until the new channel
                # opens, messages wait (a ping-less gap is not a vanished peer either).
                self._channel, self._last_life = None, None
                self.bot_track = BotAudioTrack(self.output_rate)
                await self._drop_pc(old)
        pc = self._pc
        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        audio_seen = False
        for transceiver in pc.getTransceivers():
            if transceiver.kind == "audio" and not audio_seen:
                audio_seen = True
                if transceiver.sender.track is None:
                    transceiver.sender.replaceTrack(self.bot_track)
                transceiver.direction = "sendrecv"
                self.short_listen_buffer = shorten_receive_buffer(transceiver.receiver)
            else:
                transceiver.direction = "inactive"  # a voice device: no video, one voice
        with device_sockets():  # ICE gathers here: its sockets keep to [webrtc] port_min..max
            await pc.setLocalDescription(await pc.createAnswer())
        if sig.audio_codec(pc.localDescription.sdp) == "opus":
            self.bot_track.encode_opus()
        if self._watchdog is None:
            self._watchdog = asyncio.create_task(self._watch(), name=f"webrtc-watch-{self.pc_id}")
        return pc.localDescription.sdp

    async def add_candidates(self, candidates: list[sig.Candidate]) -> None:
        pc = self._pc
        if pc is None:
            return
        for c in candidates:
            if not c.candidate:
                await pc.addIceCandidate(None)  # end of candidates
                continue
            candidate = candidate_from_sdp(c.candidate)
            candidate.sdpMid = c.sdp_mid
            candidate.sdpMLineIndex = c.sdp_mline_index
            await pc.addIceCandidate(candidate)
        self.candidates_taken += len(candidates)

    def ask_to_renegotiate(self) -> None:
        """The client answers with a new offer on the same pc_id."""
        self._send_now(sig.signalling("renegotiate"))

    def _new_pc(self) -> RTCPeerConnection:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=list(self._ice_servers)))

        @pc.on("datachannel")
        def on_datachannel(channel: RTCDataChannel) -> None:
            if pc is self._pc:
                self._use_channel(channel)

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if pc is self._pc and track.kind == "audio":
                self._listen(track)

        @pc.on("connectionstatechange")
        def on_state() -> None:
            if pc is not self._pc:
                return
            log.debug("session %s: connection %s", self.name, pc.connectionState)
            if pc.connectionState in ("failed", "closed"):
                self._lost(f"the connection {pc.connectionState}")

        return pc

    async def _drop_pc(self, pc: RTCPeerConnection) -> None:
        pc.remove_all_listeners()
        if self._mic_task is not None:
            self._mic_task.cancel()
        with contextlib.suppress(Exception):
            await pc.close()

    # -- the data channel --------------------------------------------------------------
    def _use_channel(self, channel: RTCDataChannel) -> None:
        self._channel = channel
        if channel.readyState == "open":
            self._flush()
        else:
            channel.on("open", self._flush)
        self._alive()  # from now on the client pings (every official client does) or talks

        @channel.on("message")
        def on_message(message: str | bytes) -> None:
            self._received(message)

        @channel.on("close")
        def on_close() -> None:
            if channel is self._channel:
                self._lost("the data channel closed")

    def _received(self, message: str | bytes) -> None:
        self._alive()
        kind = sig.classify(message)
        if isinstance(kind, sig.TrackStatus):
            if kind.receiver_index == sig.AUDIO_RECEIVER:
                self.mic_enabled = kind.enabled
        elif isinstance(kind, sig.Unusable):
            log.info("session %s: %s", self.name, kind.why)
        elif isinstance(kind, sig.RtviText):
            if self._inbox.qsize() >= INBOX_LIMIT:
                log.warning("session %s: the client sends faster than it is served", self.name)
            else:
                self._inbox.put_nowait(kind.data)

    def _flush(self) -> None:
        """What the session said while no channel was open (a restart), in order."""
        channel = self._channel
        while self._pending and channel is not None and channel.readyState == "open":
            channel.send(self._pending.popleft())

    def _send_now(self, text: str) -> bool:
        channel = self._channel
        if channel is None or channel.readyState != "open":
            return False
        channel.send(text)
        return True

    # -- Link ----------------------------------------------------------------------------
    async def incoming(self) -> AsyncIterator[bytes | str]:
        while (message := await self._inbox.get()) is not None:
            yield message

    async def send(self, data: Outgoing) -> None:
        if self._gone:
            raise ConnectionError("the client is gone")
        channel = self._channel
        text = data if isinstance(data, str) else data.decode("utf-8", "replace")
        if channel is None or channel.readyState == "connecting":
            # a restarted connection: its channel opens soon (when full, the oldest go)
            self._pending.append(text)
            return
        if channel.readyState != "open":
            raise ConnectionError("the data channel is closed")
        if channel.bufferedAmount > CHANNEL_BUFFER_LIMIT:
            raise ConnectionError("the client is not reading")
        channel.send(text)

    async def close(self) -> None:
        """Hangs up (peerLeft first, so the client knows) and frees every socket and task."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):
            self._send_now(sig.signalling("peerLeft"))
        self._lost("closed by the device")
        tasks = [t for t in (self._watchdog, self._mic_task) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.bot_track.stop()
        if self._pc is not None:
            await self._drop_pc(self._pc)

    # -- liveness --------------------------------------------------------------------------
    def _lost(self, why: str) -> None:
        if self._gone:
            return
        self._gone = True
        log.info("session %s: peer gone: %s", self.name, why)
        with contextlib.suppress(asyncio.QueueFull):
            self._inbox.put_nowait(None)  # the session's receiver ends: it tears down

    def _alive(self) -> None:
        self._last_life = asyncio.get_running_loop().time()

    async def _watch(self) -> None:
        """A client that was heard from and went quiet is gone (aiortc notices much later)."""
        loop = asyncio.get_running_loop()
        while not self._gone:
            await asyncio.sleep(min(1.0, self._peer_timeout / 4))
            last = self._last_life
            if last is not None and loop.time() - last > self._peer_timeout:
                self._lost(f"nothing from the client for {self._peer_timeout:g} s")

    def _listen(self, track: MediaStreamTrack) -> None:
        if self._mic_task is not None:
            self._mic_task.cancel()
        self._mic_task = asyncio.create_task(
            read_microphone(track, self._feed, lambda: self.mic_enabled),
            name=f"webrtc-mic-{self.pc_id}",
        )

    def _feed(self, pcm: bytes) -> None:
        self._alive()
        if self.session is not None:
            self.session.feed_audio(pcm)

    def stats(self) -> dict[str, Any]:
        pc = self._pc
        return {
            "pc_id": self.pc_id,
            "connection": pc.connectionState if pc else "none",
            "heard_from": self._last_life is not None,
        }

"""One SmallWebRTC client: an aiortc peer connection as an RTVI session's `Link`.

RTVI messages ride the client's data channel as JSON text; the user's voice
and the bot's are Opus tracks beside it. The peer connection may be replaced
(`restart_pc`) or renegotiated while the session goes on. The peer is gone
(the session ends and frees its slot) when the connection fails or closes,
when the data channel closes, or when, once its data channel is open, the
client sends nothing (pings, messages, its microphone's packets) for
`peer_timeout_secs`: a phone that lost Wi-Fi closes nothing, and ICE would
notice only after ~30 s.

Two loops (media_loop.py): the peer connection, its data channel, the mic reader
and the bot's track live on the media loop (`self._pc`, `self._mic_task`); the
session's side (the channel in use, the inbox, what waits for a channel,
liveness) on the daemon's loop. aiortc's events hop over with
`call_soon_threadsafe`, in the order they happened; sends hop back with `post`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
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
from rtvi_edge.rtvi.webrtc.media_loop import MediaLoop, call_soon
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
        media: MediaLoop,
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
        self._media = media
        self._main = asyncio.get_running_loop()
        self._pc: RTCPeerConnection | None = None  # media loop
        self._channel: RTCDataChannel | None = None
        self._pending: deque[str] = deque(maxlen=PENDING_LIMIT)  # for the next channel
        self._inbox: asyncio.Queue[str | bytes | None] = asyncio.Queue(INBOX_LIMIT + 1)
        self._last_life: float | None = None  # the last ping or mic frame
        self._gone = False
        self._closed = False
        self._mic_task: asyncio.Task[None] | None = None  # media loop
        self._watchdog: asyncio.Task[None] | None = None
        self.lock = asyncio.Lock()  # one offer at a time per peer

    # -- negotiation (on the media loop; the bookkeeping on the daemon's) ----------------
    async def answer(self, sdp: str, restart: bool = False) -> str:
        """The SDP answer to an offer: the first, a renegotiation, or a new connection."""
        if self._closed:
            raise ConnectionError("this peer is closed")
        if restart and self._pc is not None:
            log.info("session %s: the client restarts its peer connection", self.name)
            # The old channel's close is not the client leaving; until the new channel
            # opens, messages wait (a ping-less gap is not a vanished peer either).
            self._channel, self._last_life = None, None
            self.bot_track = BotAudioTrack(self.output_rate)
        answer = await self._media.run(self._negotiate(sdp, restart, self.bot_track))
        if self._watchdog is None:
            self._watchdog = asyncio.create_task(self._watch(), name=f"webrtc-watch-{self.pc_id}")
        return answer

    async def _negotiate(self, sdp: str, restart: bool, track: BotAudioTrack) -> str:
        if restart or self._pc is None:
            old, self._pc = self._pc, self._new_pc()
            if old is not None:
                await self._drop_pc(old)
        pc = self._pc
        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        audio_seen = False
        for transceiver in pc.getTransceivers():
            if transceiver.kind == "audio" and not audio_seen:
                audio_seen = True
                if transceiver.sender.track is None:
                    transceiver.sender.replaceTrack(track)
                transceiver.direction = "sendrecv"
                self.short_listen_buffer = shorten_receive_buffer(transceiver.receiver)
            else:
                transceiver.direction = "inactive"  # a voice device: no video, one voice
        with device_sockets():  # ICE gathers here: its sockets keep to [webrtc] port_min..max
            await pc.setLocalDescription(await pc.createAnswer())
        if sig.audio_codec(pc.localDescription.sdp) == "opus":
            track.encode_opus()
        return str(pc.localDescription.sdp)

    async def add_candidates(self, candidates: list[sig.Candidate]) -> None:
        await self._media.run(self._add_candidates(candidates))
        self.candidates_taken += len(candidates)

    async def _add_candidates(self, candidates: list[sig.Candidate]) -> None:
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

    def ask_to_renegotiate(self) -> None:
        """The client answers with a new offer on the same pc_id."""
        self._send_now(sig.signalling("renegotiate"))

    def _new_pc(self) -> RTCPeerConnection:
        """On the media loop: aiortc binds the connection's parts to the loop it runs on."""
        pc = RTCPeerConnection(RTCConfiguration(iceServers=list(self._ice_servers)))

        @pc.on("datachannel")
        def on_datachannel(channel: RTCDataChannel) -> None:
            if pc is not self._pc:
                return
            # Registered here, so that each event hops over in the order it happened.
            channel.on("open", lambda: self._to_main(self._flush))
            channel.on("message", lambda message: self._to_main(self._received, message))
            channel.on("close", lambda: self._to_main(self._channel_closed, channel))
            self._to_main(self._use_channel, channel)

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
                self._to_main(self._lost, f"the connection {pc.connectionState}")

        return pc

    async def _drop_pc(self, pc: RTCPeerConnection) -> None:
        pc.remove_all_listeners()
        if self._mic_task is not None:
            self._mic_task.cancel()
        with contextlib.suppress(Exception):
            await pc.close()

    def _to_main(self, fn: Callable[..., object], *args: Any) -> None:
        call_soon(self._main, fn, *args)  # the daemon's loop gone: so is the peer

    # -- the data channel (the daemon's loop; sends go to the media loop) ---------------
    def _use_channel(self, channel: RTCDataChannel) -> None:
        self._channel = channel
        self._flush()  # if it is open already (else its open event flushes)
        self._alive()  # from now on the client pings (every official client does) or talks

    def _channel_closed(self, channel: RTCDataChannel) -> None:
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
            self._media.post(channel.send, self._pending.popleft())

    def _send_now(self, text: str) -> bool:
        channel = self._channel
        if channel is None or channel.readyState != "open":
            return False
        self._media.post(channel.send, text)
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
        self._media.post(channel.send, text)

    async def close(self) -> None:
        """Hangs up (peerLeft first, so the client knows) and frees every socket and task."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):
            self._send_now(sig.signalling("peerLeft"))
        self._lost("closed by the device")
        if self._watchdog is not None:
            self._watchdog.cancel()
            await asyncio.gather(self._watchdog, return_exceptions=True)
        with contextlib.suppress(ConnectionError):  # the media loop stopped: all is gone
            await self._media.run(self._close_media(self.bot_track))

    async def _close_media(self, track: BotAudioTrack) -> None:
        """After the peerLeft posted before it: the mic reader, the track, the connection."""
        pc, self._pc = self._pc, None
        mic = self._mic_task
        if mic is not None:
            mic.cancel()
            await asyncio.gather(mic, return_exceptions=True)
        track.stop()
        if pc is not None:
            await self._drop_pc(pc)

    # -- liveness --------------------------------------------------------------------------
    def _lost(self, why: str) -> None:
        if self._gone:
            return
        self._gone = True
        log.info("session %s: peer gone: %s", self.name, why)
        with contextlib.suppress(asyncio.QueueFull):
            self._inbox.put_nowait(None)  # the session's receiver ends: it tears down

    def _alive(self) -> None:
        self._last_life = time.monotonic()  # the mic reader's thread calls it too

    async def _watch(self) -> None:
        """A client that was heard from and went quiet is gone (aiortc notices much later)."""
        while not self._gone:
            await asyncio.sleep(min(1.0, self._peer_timeout / 4))
            last = self._last_life
            if last is not None and time.monotonic() - last > self._peer_timeout:
                self._lost(f"nothing from the client for {self._peer_timeout:g} s")

    def _listen(self, track: MediaStreamTrack) -> None:
        """On the media loop: the user's voice is decoded there and fed to the session."""
        if self._mic_task is not None:
            self._mic_task.cancel()
        self._mic_task = asyncio.create_task(
            read_microphone(track, self._heard, lambda: self.mic_enabled),
            name=f"webrtc-mic-{self.pc_id}",
        )

    def _heard(self, pcm: bytes) -> None:
        self._alive()
        self._to_main(self._feed, pcm)

    def _feed(self, pcm: bytes) -> None:
        if self.session is not None:
            self.session.feed_audio(pcm)

    def stats(self) -> dict[str, Any]:
        pc = self._pc
        return {
            "pc_id": self.pc_id,
            "connection": pc.connectionState if pc else "none",
            "heard_from": self._last_life is not None,
        }

"""Audio over WebRTC: the bot's voice as an outgoing track, the user's mic into the session.

aiortc encodes and decodes Opus (48 kHz) and resamples what it sends; here the
bot's PCM at the pipeline's output rate becomes 20 ms frames on the track's own
real-time clock (silence between answers), paced by what the sender takes, and
the user's decoded frames become 16 kHz mono s16le for the conversation.

When Opus was negotiated (every Pipecat client offers it first) the track hands
aiortc Opus packets it encoded itself, with aiortc's own encoder: aiortc would
encode each frame in the event loop's default thread pool, where it queues behind
the pipeline's blocking work (speech-to-text, the LLM's and Piper's streams) and
leaves in bursts on a busy machine, and a browser's jitter buffer grows to
absorb bursts. Encoding 20 ms of voice takes well under a millisecond.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from aiortc import MediaStreamTrack
from aiortc.codecs.opus import OpusEncoder
from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.mediastreams import MediaStreamError
from aiortc.rtp import RtpPacket
from aiortc.utils import uint16_add
from av import AudioFrame, AudioResampler, Packet

from rtvi_edge.rtvi.webrtc.media_loop import call_soon

log = logging.getLogger(__name__)

FRAME_S = 0.02  # what Opus carries per packet
INPUT_RATE = 16000
_OPUS_TIME_BASE = fractions.Fraction(1, 48000)
_BUFFER_ATTR = "_RTCRtpReceiver__jitter_buffer"  # aiortc 1.x; pipecat swaps it too
_MAX_MISORDER = 100  # further back than this: the sender started over (as aiortc's)


class ListeningBuffer(JitterBuffer):
    """The user's voice to the decoder as each packet arrives.

    aiortc keeps 4 packets (80 ms) for playout and hands on a frame only once the
    next one has come; the device only listens, and every Opus packet is a whole
    frame, so each goes on at once: 80 ms sooner at every end of speech. A packet
    older than the last one handed on (reordered, or a duplicate) is dropped: 20 ms
    missing from what is heard, rather than all of it heard later."""

    def __init__(self) -> None:
        super().__init__(capacity=16)  # the parent's slots stay unused
        self._next: int | None = None

    def add(self, packet: RtpPacket) -> tuple[bool, JitterFrame | None]:
        if self._next is not None:
            behind = uint16_add(self._next, -packet.sequence_number)
            if 0 < behind < _MAX_MISORDER:
                return False, None
        self._next = uint16_add(packet.sequence_number, 1)
        return False, JitterFrame(data=packet._data, timestamp=packet.timestamp)  # type: ignore[attr-defined]


def shorten_receive_buffer(receiver: object) -> bool:
    """The receiver's audio jitter buffer, a ListeningBuffer; False when this aiortc
    keeps it elsewhere (then its own 80 ms stay)."""
    current = getattr(receiver, _BUFFER_ATTR, None)
    if not isinstance(current, JitterBuffer):
        log.debug("aiortc's receive buffer is not where it was: left as it is")
        return False
    if not isinstance(current, ListeningBuffer):  # a renegotiation keeps the one in use
        setattr(receiver, _BUFFER_ATTR, ListeningBuffer())
    return True


class BotAudioTrack(MediaStreamTrack):
    """The device's voice: what the sink pushes, else silence, one 20 ms frame at a time.

    Its sender calls `recv` on the media loop (media_loop.py); the sink calls `push`,
    `clear`, `queued` and `taken` from the daemon's loop. The two share the buffer
    under a lock and wake each other with the other loop's `call_soon_threadsafe`."""

    kind = "audio"

    def __init__(self, sample_rate: int) -> None:
        super().__init__()
        self.sample_rate = sample_rate
        self._samples = int(sample_rate * FRAME_S)
        self._buffer = bytearray()
        self._lock = threading.Lock()  # the buffer and the wake-up below
        self._time_base = fractions.Fraction(1, sample_rate)
        self._start: float | None = None
        self._pts = 0
        self._loop: asyncio.AbstractEventLoop | None = None  # where recv runs
        self._wake: asyncio.Future[None] | None = None  # the silent track's wait for a tick
        self._taken: _Waiter | None = None  # the sink's wait for a frame to leave
        self._opus: OpusEncoder | None = None  # set: hand aiortc Opus packets
        self._packets: deque[Packet[Any]] = deque()
        self._sent = 0  # 20 ms frames handed to the sender: the clock's position

    def encode_opus(self) -> None:
        """Opus was negotiated: encode here, on the media loop, not in aiortc's thread pool."""
        if self._opus is None:  # a renegotiation keeps the encoder (and its timestamps)
            self._opus = OpusEncoder()

    @property
    def encodes_opus(self) -> bool:
        return self._opus is not None

    def push(self, pcm: bytes) -> None:
        with self._lock:
            self._buffer += pcm
            wake, loop = self._wake, self._loop
        if wake is not None and loop is not None:
            call_soon(loop, _wake, wake)

    def clear(self) -> None:
        """Interruption: what is queued never leaves (the frame being sent may)."""
        with self._lock:
            self._buffer.clear()
        self._signal_taken()

    def queued(self) -> float:
        return len(self._buffer) / 2 / self.sample_rate

    async def taken(self, timeout: float) -> None:
        """Waits (at most `timeout`) until the sender takes a frame."""
        loop = asyncio.get_running_loop()
        waiter: _Waiter = (loop, loop.create_future())
        self._taken = waiter
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter[1], timeout)
        finally:
            if self._taken is waiter:
                self._taken = None

    def _signal_taken(self) -> None:
        waiter = self._taken
        if waiter is not None:
            call_soon(waiter[0], _wake, waiter[1])

    async def recv(self) -> AudioFrame | Packet[Any]:
        if self.readyState != "live":
            raise MediaStreamError
        loop = asyncio.get_running_loop()
        if self._start is None:
            self._loop = loop
            self._start = loop.time()
        else:
            wait = self._start + self._sent * FRAME_S - loop.time()
            if wait > 0:
                await self._until_due_or_pushed(wait)
        self._sent += 1
        if self._opus is None:
            return self._next_frame()
        for _ in range(8):  # the resampler holds back a little at first
            if self._packets:
                break
            payloads, timestamp = self._opus.encode(self._next_frame())
            for i, payload in enumerate(payloads):
                packet = Packet(payload)
                packet.pts = timestamp + i * 960
                packet.time_base = _OPUS_TIME_BASE
                self._packets.append(packet)
        return self._packets.popleft() if self._packets else self._next_frame()

    async def _until_due_or_pushed(self, wait: float) -> None:
        """Silence waits for its tick; the first frame of an answer goes at once (up to
        20 ms ahead of its tick: the browser just holds it a little longer)."""
        loop = asyncio.get_running_loop()
        woken: asyncio.Future[None] = loop.create_future()
        with self._lock:  # a push from now on wakes it
            silent = not self._buffer
            if silent:
                self._wake = woken
        if not silent:
            await asyncio.sleep(wait)
            return
        tick = loop.call_later(wait, _wake, woken)
        try:
            await woken
        finally:
            tick.cancel()
            with self._lock:
                self._wake = None

    def _next_frame(self) -> AudioFrame:
        size = self._samples * 2
        with self._lock:
            chunk = bytes(self._buffer[:size])
            del self._buffer[:size]
        self._signal_taken()
        frame = AudioFrame(format="s16", layout="mono", samples=self._samples)
        frame.planes[0].update(chunk.ljust(size, b"\0"))
        frame.pts = self._pts
        frame.sample_rate = self.sample_rate
        frame.time_base = self._time_base
        self._pts += self._samples
        return frame


_Waiter = tuple[asyncio.AbstractEventLoop, "asyncio.Future[None]"]


def _wake(future: asyncio.Future[None] | None) -> None:
    if future is not None and not future.done():
        future.set_result(None)


class WebRtcSink:
    """The session's AudioSink, into the bot's current track (aiortc ends a track with
    its peer connection: a restarted peer has a new one).

    Paced by what the track's sender takes, not by the clock: when the machine is
    too busy to encode in real time, the answer waits instead of piling up, and the
    context keeps what was really sent. LEAD_S is queued ahead of the sender: the
    track keeps its clock on the media loop while the daemon's loop is held up (for
    over 100 ms on a loaded machine), and a track that runs dry sends silence."""

    LEAD_S = 0.2

    def __init__(self, track: Callable[[], BotAudioTrack], sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self._track = track

    async def play(self, pcm: bytes) -> None:
        track = self._track()
        track.push(pcm)
        loop = asyncio.get_running_loop()
        # A track nobody takes from (its connection gone) must not hold the turn forever.
        give_up = loop.time() + len(pcm) / 2 / self.sample_rate + 1.0
        while track.queued() > self.LEAD_S and loop.time() < give_up:
            await track.taken(0.05)

    def buffered(self) -> float:
        return self._track().queued()

    async def discard(self) -> None:
        self._track().clear()


async def read_microphone(
    track: MediaStreamTrack, feed: Callable[[bytes], None], enabled: Callable[[], bool]
) -> None:
    """The user's decoded audio → 16 kHz mono s16le, until the track ends.

    A track the client disabled (trackStatus) still counts as time passing: it is
    heard as silence, so an utterance cut by the mute button still ends."""
    resampler = AudioResampler(format="s16", layout="mono", rate=INPUT_RATE)
    while True:
        try:
            frame = await track.recv()
        except MediaStreamError:
            return
        if not isinstance(frame, AudioFrame):
            continue
        for out in resampler.resample(frame):
            pcm = out.to_ndarray().tobytes()
            feed(pcm if enabled() else bytes(len(pcm)))

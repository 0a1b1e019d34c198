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
from collections import deque
from collections.abc import Callable
from typing import Any

from aiortc import MediaStreamTrack
from aiortc.codecs.opus import OpusEncoder
from aiortc.jitterbuffer import JitterBuffer
from aiortc.mediastreams import MediaStreamError
from av import AudioFrame, AudioResampler, Packet

log = logging.getLogger(__name__)

FRAME_S = 0.02  # what Opus carries per packet
INPUT_RATE = 16000
_OPUS_TIME_BASE = fractions.Fraction(1, 48000)
# Packets aiortc holds back before decoding the user's voice: it keeps 4 (80 ms) for
# playout, but the device only listens, in arrival order, so one more than the packet
# being decoded is enough to put a swapped pair right; 40 ms sooner at every end of
# speech.
LISTEN_PREFETCH = 2
_BUFFER_ATTR = "_RTCRtpReceiver__jitter_buffer"  # aiortc 1.x; pipecat swaps it too


def shorten_receive_buffer(receiver: object) -> bool:
    """The receiver's audio jitter buffer, LISTEN_PREFETCH packets deep; False when this
    aiortc keeps it elsewhere (then its own 80 ms stay)."""
    current = getattr(receiver, _BUFFER_ATTR, None)
    if not isinstance(current, JitterBuffer):
        log.debug("aiortc's receive buffer is not where it was: left as it is")
        return False
    if current._prefetch != LISTEN_PREFETCH:  # a renegotiation keeps the one in use
        setattr(receiver, _BUFFER_ATTR, JitterBuffer(capacity=16, prefetch=LISTEN_PREFETCH))
    return True


class BotAudioTrack(MediaStreamTrack):
    """The device's voice: what the sink pushes, else silence, one 20 ms frame at a time."""

    kind = "audio"

    def __init__(self, sample_rate: int) -> None:
        super().__init__()
        self.sample_rate = sample_rate
        self._samples = int(sample_rate * FRAME_S)
        self._buffer = bytearray()
        self._time_base = fractions.Fraction(1, sample_rate)
        self._start: float | None = None
        self._pts = 0
        self._taken = asyncio.Event()  # a frame left the buffer
        self._opus: OpusEncoder | None = None  # set: hand aiortc Opus packets
        self._packets: deque[Packet[Any]] = deque()
        self._sent = 0  # 20 ms frames handed to the sender: the clock's position

    def encode_opus(self) -> None:
        """Opus was negotiated: encode here, in the event loop, not in aiortc's thread pool."""
        if self._opus is None:  # a renegotiation keeps the encoder (and its timestamps)
            self._opus = OpusEncoder()

    @property
    def encodes_opus(self) -> bool:
        return self._opus is not None

    def push(self, pcm: bytes) -> None:
        self._buffer += pcm

    def clear(self) -> None:
        self._buffer.clear()
        self._taken.set()

    def queued(self) -> float:
        return len(self._buffer) / 2 / self.sample_rate

    async def taken(self, timeout: float) -> None:
        """Waits (at most `timeout`) until the sender takes a frame."""
        self._taken.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._taken.wait(), timeout)

    async def recv(self) -> AudioFrame | Packet[Any]:
        if self.readyState != "live":
            raise MediaStreamError
        loop = asyncio.get_running_loop()
        if self._start is None:
            self._start = loop.time()
        else:
            wait = self._start + self._sent * FRAME_S - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
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

    def _next_frame(self) -> AudioFrame:
        size = self._samples * 2
        chunk = bytes(self._buffer[:size])
        del self._buffer[:size]
        self._taken.set()
        frame = AudioFrame(format="s16", layout="mono", samples=self._samples)
        frame.planes[0].update(chunk.ljust(size, b"\0"))
        frame.pts = self._pts
        frame.sample_rate = self.sample_rate
        frame.time_base = self._time_base
        self._pts += self._samples
        return frame


class WebRtcSink:
    """The session's AudioSink, into the bot's current track (aiortc ends a track with
    its peer connection: a restarted peer has a new one).

    Paced by what the track's sender takes, not by the clock: when the machine is
    too busy to encode in real time, the answer waits instead of piling up, so an
    interruption drops at most LEAD_S and the context keeps what was really sent."""

    LEAD_S = 0.08

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

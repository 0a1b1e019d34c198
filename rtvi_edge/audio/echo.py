"""Acoustic echo cancellation: the audio played is the reference for WebRTC's AEC.

The sink hands every piece it plays to `reference()`; the microphone path
runs each 10 ms frame through `process()` together with the reference frame
that was playing at the same time, so the bot's own voice is removed from what
the VAD and STT hear, while the user's voice over it stays.
"""

from __future__ import annotations

import logging
import threading

from rtvi_edge.audio.pcm import resample
from rtvi_edge.audio.sink import AudioSink
from rtvi_edge.errors import AudioDeviceError

log = logging.getLogger(__name__)

RATE = 16000
FRAME_BYTES = RATE // 100 * 2  # 10 ms: WebRTC APM's frame
MAX_REFERENCE_BYTES = 10 * RATE * 2  # 10 s


class EchoCanceller:
    def __init__(
        self, delay_ms: int = 40, noise_suppression: bool = True, auto_gain: bool = False
    ) -> None:
        try:
            from aec_audio_processing import AudioProcessor
        except ImportError as exc:
            raise AudioDeviceError(
                "[audio] echo_cancel needs the aec-audio-processing package "
                "(scripts/setup installs it)"
            ) from exc
        self._ap = AudioProcessor(
            enable_aec=True, enable_ns=noise_suppression, enable_agc=auto_gain, enable_vad=False
        )
        self._ap.set_stream_format(RATE, 1)
        self._ap.set_reverse_stream_format(RATE, 1)
        self._ap.set_stream_delay(delay_ms)
        # What the speaker plays from the next microphone sample on, sample for sample.
        self._reference = bytearray()
        self._mic_pending = b""
        self._lock = threading.Lock()  # the sink may run in another thread

    def reference(self, pcm: bytes, rate: int) -> None:
        """Audio just handed to the speaker (any rate, mono s16le)."""
        pcm = resample(pcm, rate, RATE)
        with self._lock:
            # Playback cannot start before now: if it ran dry, this piece is heard
            # only after the microphone audio already received (some not yet processed).
            gap = len(self._mic_pending) - len(self._reference)
            if gap > 0:
                self._reference += bytes(gap)
            self._reference += pcm
            excess = len(self._reference) - MAX_REFERENCE_BYTES
            if excess > 0:  # nobody feeds the microphone: keep the newest only
                del self._reference[: excess + excess % 2]

    def process(self, mic: bytes) -> bytes:
        """16 kHz mono s16le from the microphone → the same with the echo removed."""
        data = self._mic_pending + mic
        cut = len(data) - len(data) % FRAME_BYTES
        out = []
        for i in range(0, cut, FRAME_BYTES):
            with self._lock:
                far = bytes(self._reference[:FRAME_BYTES]).ljust(FRAME_BYTES, b"\0")
                del self._reference[:FRAME_BYTES]
            self._ap.process_reverse_stream(far)
            out.append(self._ap.process_stream(data[i : i + FRAME_BYTES]))
        self._mic_pending = data[cut:]
        return b"".join(out)


class EchoReferenceSink:
    """Wraps a sink so everything it plays also feeds the echo canceller."""

    def __init__(self, inner: AudioSink, aec: EchoCanceller) -> None:
        self._inner = inner
        self._aec = aec
        self.sample_rate: int = inner.sample_rate

    async def play(self, pcm: bytes) -> None:
        await self._inner.play(pcm)
        self._aec.reference(pcm, self.sample_rate)

    def buffered(self) -> float:
        return float(self._inner.buffered())

    async def discard(self) -> None:
        # What was handed over is still played (the device's buffer, the pacer's lead)
        # and echoes: its reference stays, so that tail is cancelled too.
        await self._inner.discard()

    def close(self) -> None:
        close = getattr(self._inner, "close", None)
        if close is not None:
            close()

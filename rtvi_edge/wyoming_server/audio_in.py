"""Any PCM a client sends (rate, sample width, channels) → 16 kHz mono s16le."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import soxr

from rtvi_edge.errors import ProtocolError

TARGET_RATE = 16000
MIN_RATE, MAX_RATE = 4000, 384000
MAX_CHANNELS = 16


@dataclass(frozen=True)
class PcmFormat:
    rate: int
    width: int  # bytes per sample: 1 (unsigned), 2, 3 or 4 (signed little-endian)
    channels: int

    @staticmethod
    def from_data(data: dict[str, object]) -> PcmFormat:
        """The format of an audio-start or audio-chunk event; ProtocolError if unusable."""
        values = []
        for key in ("rate", "width", "channels"):
            value = data.get(key)
            if not isinstance(value, int) or isinstance(value, bool):
                raise ProtocolError(f"audio {key} = {value!r}: must be an integer")
            values.append(value)
        fmt = PcmFormat(*values)
        if not MIN_RATE <= fmt.rate <= MAX_RATE:
            raise ProtocolError(f"audio rate = {fmt.rate}: must be {MIN_RATE}..{MAX_RATE} Hz")
        if fmt.width not in (1, 2, 3, 4):
            raise ProtocolError(f"audio width = {fmt.width}: must be 1, 2, 3 or 4 bytes")
        if not 1 <= fmt.channels <= MAX_CHANNELS:
            raise ProtocolError(f"audio channels = {fmt.channels}: must be 1..{MAX_CHANNELS}")
        return fmt

    @property
    def frame_bytes(self) -> int:
        return self.width * self.channels


class ToMono16k:
    """Streaming converter for one audio stream: keeps partial frames and the
    resampler's state between chunks, so chunk edges leave no clicks."""

    def __init__(self, fmt: PcmFormat) -> None:
        self.format = fmt
        self._rest = b""
        self._resampler = (
            soxr.ResampleStream(fmt.rate, TARGET_RATE, 1, dtype="float32")
            if fmt.rate != TARGET_RATE
            else None
        )
        self.seconds_in = 0.0

    def convert(self, pcm: bytes, last: bool = False) -> bytes:
        fmt = self.format
        data = self._rest + pcm
        whole = len(data) - len(data) % fmt.frame_bytes
        self._rest = data[whole:]
        data = data[:whole]
        self.seconds_in += whole / fmt.frame_bytes / fmt.rate
        if fmt.width == 2 and fmt.channels == 1 and self._resampler is None:
            return data
        samples = _to_float(data, fmt.width)
        if fmt.channels > 1:
            samples = samples.reshape(-1, fmt.channels).mean(axis=1)
        if self._resampler is not None:
            samples = self._resampler.resample_chunk(samples.astype(np.float32), last=last)
        out = np.clip(np.round(samples * 32768.0), -32768, 32767).astype(np.int16)
        return bytes(out.tobytes())


def _to_float(data: bytes, width: int) -> np.ndarray:
    if width == 1:
        return (np.frombuffer(data, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    if width == 2:
        return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0
    if width == 4:
        return (np.frombuffer(data, dtype="<i4").astype(np.float64) / 2147483648.0).astype(
            np.float32
        )
    raw = np.frombuffer(data, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
    value = raw[:, 0] | (raw[:, 1] << 8) | (raw[:, 2] << 16)
    value = np.where(value >= 1 << 23, value - (1 << 24), value)
    return (value.astype(np.float32)) / float(1 << 23)

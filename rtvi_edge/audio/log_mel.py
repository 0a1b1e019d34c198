"""Whisper's log-mel spectrogram in numpy (no torch, no transformers).

80 Slaney mel bands over a 400-point STFT (periodic Hann window, hop 160,
reflect-padded and centred) of 16 kHz audio; log10, floored 8 decades under
the peak, then scaled to about [-1, 1]. The last STFT frame is dropped, as
Whisper does, so N samples give N // 160 frames.
"""

from __future__ import annotations

import numpy as np

SAMPLE_RATE = 16000
N_FFT = 400
HOP = 160
N_MELS = 80
_F_SP = 200.0 / 3  # Slaney scale: linear up to 1 kHz, 15 mels there, logarithmic above
_LOG_HZ = 1000.0
_LOG_MEL = _LOG_HZ / _F_SP
_LOG_STEP = np.log(6.4) / 27.0


def _mel_to_hz(mels: np.ndarray) -> np.ndarray:
    hz = _F_SP * mels
    log = mels >= _LOG_MEL
    hz[log] = _LOG_HZ * np.exp(_LOG_STEP * (mels[log] - _LOG_MEL))
    return hz


def _hz_to_mel(hz: float) -> float:
    if hz < _LOG_HZ:
        return hz / _F_SP
    return float(_LOG_MEL + np.log(hz / _LOG_HZ) / _LOG_STEP)


def mel_filters(n_mels: int = N_MELS, n_fft: int = N_FFT, rate: int = SAMPLE_RATE) -> np.ndarray:
    """Triangular filters with Slaney area normalisation, shape (n_mels, n_fft // 2 + 1)."""
    bins = np.linspace(0.0, rate / 2, n_fft // 2 + 1)
    edges = _mel_to_hz(np.linspace(0.0, _hz_to_mel(rate / 2), n_mels + 2))
    rising = (bins[None, :] - edges[:-2, None]) / np.diff(edges)[:-1, None]
    falling = (edges[2:, None] - bins[None, :]) / np.diff(edges)[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))
    return np.asarray(weights * (2.0 / (edges[2:] - edges[:-2]))[:, None])


class LogMel:
    """Reusable: the window and the filter bank are computed once."""

    def __init__(self, n_mels: int = N_MELS) -> None:
        self._window = np.hanning(N_FFT + 1)[:-1].astype(np.float32)
        self._filters = mel_filters(n_mels).astype(np.float32)

    def __call__(self, audio: np.ndarray) -> np.ndarray:
        """float audio at 16 kHz → float32 features, shape (n_mels, len(audio) // 160)."""
        x = np.asarray(audio, dtype=np.float32)
        if x.ndim != 1 or x.size < N_FFT:
            raise ValueError(f"need mono audio of at least {N_FFT} samples, got shape {x.shape}")
        padded = np.pad(x, N_FFT // 2, mode="reflect")
        frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP][:-1]
        power = np.abs(np.fft.rfft(frames * self._window, axis=-1)) ** 2
        mel = self._filters @ power.T.astype(np.float32)
        log = np.log10(np.maximum(mel, 1e-10))
        log = np.maximum(log, log.max() - 8.0)
        return np.asarray((log + 4.0) / 4.0, dtype=np.float32)


def normalize(audio: np.ndarray) -> np.ndarray:
    """Zero mean, unit variance (what Whisper-encoder classifiers are trained on)."""
    x = np.asarray(audio, dtype=np.float32)
    return np.asarray((x - x.mean()) / np.sqrt(x.var() + 1e-7), dtype=np.float32)

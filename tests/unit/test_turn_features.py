"""The numpy Whisper log-mel against faster-whisper's own (the reference), and the
turn model's input window."""

from __future__ import annotations

import numpy as np
import pytest
from faster_whisper.feature_extractor import FeatureExtractor

from rtvi_edge.audio.log_mel import LogMel, mel_filters, normalize
from rtvi_edge.pipeline import framing


def test_mel_filters_match_the_reference() -> None:
    ref = FeatureExtractor.get_mel_filters(16000, 400, n_mels=80)
    assert mel_filters().shape == (80, 201)
    np.testing.assert_allclose(mel_filters(), ref, atol=1e-9)


@pytest.mark.parametrize("secs", [1.0, 8.0])
def test_log_mel_matches_faster_whispers_feature_extractor(secs: float) -> None:
    rng = np.random.default_rng(1)
    n = int(secs * 16000)
    t = np.arange(n) / 16000
    audio = (0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(n)).astype(np.float32)
    audio[: n // 4] = 0.0  # silence in front, as the turn model's window has
    ours = LogMel()(audio)
    ref = FeatureExtractor(feature_size=80)(audio, padding=0)
    assert ours.shape == ref.shape == (80, n // 160)
    np.testing.assert_allclose(ours, ref, atol=1e-4)


def test_normalize_gives_zero_mean_unit_variance() -> None:
    x = normalize(np.linspace(-3, 5, 1000))
    assert abs(float(x.mean())) < 1e-5 and abs(float(x.std()) - 1) < 1e-3


def test_log_mel_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="mono"):
        LogMel()(np.zeros((2, 1000), dtype=np.float32))


def _speech(seed: int = 2) -> np.ndarray:
    rng = np.random.default_rng(seed)
    burst = (rng.standard_normal(8000) * 3000).astype(np.int16)
    gap = np.zeros(1600, np.int16)  # 100 ms inside the phrase
    return np.concatenate([burst, gap, burst])


@pytest.mark.parametrize("lead", [0, 37, 160, 511, 4000])
def test_framing_moves_with_the_audio_not_the_grid(lead: int) -> None:
    speech = _speech()
    pcm = np.concatenate([np.zeros(3000 + lead, np.int16), speech]).tobytes()
    assert framing.onset_sample(pcm) == 3000 + lead
    tail = np.concatenate([speech, np.zeros(lead + 700, np.int16)]).tobytes()
    end = framing.end_sample(tail)
    assert end is not None and speech.size - 2 <= end <= speech.size


def test_framing_without_speech() -> None:
    quiet = bytes(16000)
    assert framing.onset_sample(quiet) is None and framing.end_sample(quiet) is None

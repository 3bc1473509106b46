"""MFCC / log-mel features: shapes, the Hamming window really applied, determinism; the per-speaker normaliser."""

from __future__ import annotations

import numpy as np
import pytest
import python_speech_features as psf

from edge.audio import pcm16
from edge.audio.features import MFCC, SpeakerNormaliser, logmel_features, mfcc_features


@pytest.fixture
def one_second() -> np.ndarray:
    t = np.arange(16000) / 16000
    tone = 3000 * np.sin(2 * np.pi * 220 * t) + 1500 * np.sin(2 * np.pi * 1250 * t)
    noise = np.random.default_rng(0).normal(0, 300, 16000)
    return np.round(tone + noise).astype(np.int16)


def test_shapes(one_second: np.ndarray) -> None:
    feats = mfcc_features(one_second)
    # 1 + ceil((16000 - 400) / 160) frames; the last one zero-padded.
    assert feats.shape == (99, 39) and feats.dtype == np.float32
    assert mfcc_features(one_second[:8000]).shape == (49, 39)
    assert logmel_features(one_second).shape == (99, MFCC.nfilt)
    assert np.isfinite(feats).all()


def test_hamming_window_is_applied(one_second: np.ndarray) -> None:
    feats = mfcc_features(one_second)
    # Coefficient 0 is the log energy of the first frame: pre-emphasis, Hamming window, |FFT 512|² / 512, summed.
    x = one_second.astype(np.float64)
    emphasised = np.append(x[0], x[1:] - 0.97 * x[:-1])
    frame = emphasised[:400] * np.hamming(400)
    energy = (np.abs(np.fft.rfft(frame, 512)) ** 2 / 512).sum()
    assert feats[0, 0] == pytest.approx(np.log(energy), rel=1e-5)
    # python_speech_features' default (rectangular) window gives other numbers.
    rectangular = psf.mfcc(x, 16000, 0.025, 0.01, 13, 26, 512, 0, 8000, 0.97, 22, True)
    assert not np.allclose(feats[:, :13], rectangular, rtol=1e-3)
    rect_logmel = psf.logfbank(x, 16000, 0.025, 0.01, 26, 512, 0, 8000, 0.97)
    assert not np.allclose(logmel_features(one_second), rect_logmel, rtol=1e-3)


def test_deltas_follow_the_coefficients(one_second: np.ndarray) -> None:
    feats = mfcc_features(one_second)
    d1 = psf.delta(feats[:, :13], 2)
    np.testing.assert_allclose(feats[:, 13:26], d1, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(feats[:, 26:], psf.delta(d1, 2), rtol=1e-5, atol=1e-4)


def test_deterministic_and_same_for_int16_and_float(one_second: np.ndarray) -> None:
    a = mfcc_features(one_second)
    np.testing.assert_array_equal(a, mfcc_features(one_second.copy()))
    np.testing.assert_array_equal(a, mfcc_features(one_second.astype(np.float32) / 32768.0))


def test_params_are_recorded() -> None:
    params = MFCC.as_dict()
    assert params["window"] == "hamming" and params["nfft"] == 512 and params["numcep"] == 13
    assert (params["winlen_s"], params["winstep_s"], params["sample_rate"]) == (0.025, 0.010, 16000)
    assert MFCC.dim == 39


def test_pcm16_conversion_and_errors() -> None:
    np.testing.assert_array_equal(pcm16(np.array([0.0, 0.5, -1.0, 2.0])), [0, 16384, -32768, 32767])
    with pytest.raises(TypeError, match="int16"):
        pcm16(np.array([1, 2], dtype=np.int32))
    with pytest.raises(ValueError, match="mono"):
        pcm16(np.zeros((2, 10), dtype=np.int16))
    with pytest.raises(ValueError, match="no audio"):
        mfcc_features(np.zeros(0, dtype=np.int16))


def test_speaker_normaliser_matches_the_batch_statistics() -> None:
    rng = np.random.default_rng(5)
    frames = rng.normal(loc=np.arange(39), scale=np.linspace(0.5, 20, 39), size=(1000, 39))
    norm = SpeakerNormaliser(39, min_frames=500)
    with pytest.raises(RuntimeError):
        norm.apply(frames)
    for batch in np.array_split(frames, [1, 7, 300, 301, 820]):  # uneven batches, one of size 1
        norm.update(batch)
        assert norm.ready == (norm.count >= 500)
    assert norm.count == 1000
    np.testing.assert_allclose(norm.mean, frames.mean(axis=0), rtol=1e-10)
    np.testing.assert_allclose(norm.std, frames.std(axis=0), rtol=1e-10)
    z = norm.apply(frames)
    np.testing.assert_allclose(z.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(z.std(axis=0), 1, atol=1e-5)
    # A later frame is standardised with what was learned, not with itself.
    np.testing.assert_allclose(norm.apply(np.full((1, 39), 1.0))[0], (1.0 - frames.mean(0)) / frames.std(0), rtol=1e-5)


def test_speaker_normaliser_edges() -> None:
    norm = SpeakerNormaliser(3, min_frames=2)
    norm.update(np.ones((4, 3)))  # a constant feature: the std floor keeps it finite
    assert np.isfinite(norm.apply(np.array([[1.0, 2.0, 3.0]]))).all()
    with pytest.raises(ValueError, match=r"\(n, 3\)"):
        norm.update(np.ones((4, 39)))
    norm.reset()
    assert norm.count == 0 and not norm.ready

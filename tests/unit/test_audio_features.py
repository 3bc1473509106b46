"""MFCC / log-mel / pitch features: shapes, the Hamming window really applied, F0 of known tones, determinism; the
per-speaker normaliser."""

from __future__ import annotations

import numpy as np
import pytest
import python_speech_features as psf

from edge.audio import pcm16
from edge.audio.features import (
    FRAME_DIM,
    MFCC,
    PITCH,
    SpeakerNormaliser,
    feature_description,
    mfcc_features,
    pitch_features,
    pitch_track,
)


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


def _pulses(f0: np.ndarray | float, seconds: float = 1.0) -> np.ndarray:
    """A glottal-like buzz: a sawtooth at f0 (Hz, per sample or constant) through a resonance, int16."""
    n = int(seconds * 16000)
    phase = np.cumsum(np.broadcast_to(np.asarray(f0, dtype=np.float64), (n,))) / 16000
    saw = (phase % 1.0) - 0.5
    return np.round(6000 * np.convolve(saw, np.exp(-np.arange(40) / 8.0) / 4, mode="same")).astype(np.int16)


@pytest.mark.parametrize("f0", [65.0, 100.0, 140.0, 220.0, 310.0, 390.0])
def test_pitch_of_a_steady_buzz(f0: float) -> None:
    log_f0, strength = pitch_track(_pulses(f0))
    assert len(log_f0) == len(mfcc_features(_pulses(f0))) == 99
    inner = slice(3, -3)  # the first and last windows reach past the audio
    assert np.median(np.abs(np.exp(log_f0[inner]) / f0 - 1)) < 0.01
    assert (strength[inner] >= PITCH.voicing_threshold).all()


def test_pitch_follows_a_glide_and_ignores_noise_and_silence() -> None:
    glide = np.linspace(120, 240, 16000)  # one octave up in a second
    log_f0, _ = pitch_track(_pulses(glide))
    expected = np.log(glide[np.minimum(np.arange(99) * 160 + 200, 15999)])
    assert np.median(np.abs(log_f0[3:-3] - expected[3:-3])) < 0.02
    noise = np.random.default_rng(1).normal(0, 2000, 16000).astype(np.int16)
    assert (pitch_features(noise)[:, 1] == 0).mean() > 0.9  # white noise: (almost) never pitched
    silent = pitch_features(np.zeros(16000, dtype=np.int16))
    assert (silent[:, 1] == 0).all() and np.allclose(silent[:, 0], np.log(PITCH.fill_hz))


def test_pitch_features_fill_unpitched_frames_between_pitched_ones() -> None:
    gap = np.zeros(4000, dtype=np.int16)
    signal = np.concatenate([_pulses(100.0, 0.5), gap, _pulses(200.0, 0.5)])  # 100 Hz, 0.25 s silence, 200 Hz
    feats = pitch_features(signal)
    assert feats.shape == (len(mfcc_features(signal)), 2) and feats.dtype == np.float32
    log_f0, pitched = feats[:, 0], feats[:, 1].astype(bool)
    assert not pitched[55:70].any() and pitched[5:40].all() and pitched[85:115].all()
    silent = np.flatnonzero(~pitched[40:85]) + 40
    assert np.all(np.diff(log_f0[silent]) >= 0)  # linear from log 100 up to log 200 across the gap
    assert np.log(100) - 0.02 < log_f0[silent].min() and log_f0[silent].max() < np.log(200) + 0.02
    # the frame indices given: the same values for those frames, the fill from those frames alone
    some = np.arange(10, 120, 3)
    np.testing.assert_allclose(pitch_track(signal, some)[0], pitch_track(signal)[0][some], rtol=1e-6)
    assert pitch_features(signal, np.array([], dtype=int)).shape == (0, 2)


def test_the_feature_description_pins_mfcc_and_pitch() -> None:
    description = feature_description()
    assert {k: v for k, v in description.items() if k != "pitch"} == MFCC.as_dict()
    assert description["pitch"] == PITCH.as_dict() and PITCH.fmin_hz == 60.0 and PITCH.fmax_hz == 400.0
    assert FRAME_DIM == MFCC.dim + PITCH.dim == 41
    assert SpeakerNormaliser().dim == FRAME_DIM

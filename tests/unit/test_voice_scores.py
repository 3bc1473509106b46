"""The committed voice model: int8, small, trained on today's feature parameters, deterministic scores."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from edge.audio.features import FRAME_DIM, MFCC, feature_description
from edge.audio.voice import (
    AROUSAL_CLASSES,
    INPUT_CLIP,
    MIN_FRAMES,
    N_STATISTICS,
    STAT_CLIP,
    VOICE_EMOTIONS,
    VoiceModel,
    model_input,
    segment_statistics,
)
from edge.config import Config, tomllib
from edge.models import manifest_path

MODELS = Config().runtime.models_dir


@pytest.fixture(scope="module")
def voice() -> VoiceModel:
    return VoiceModel.load(MODELS)


def test_the_model_is_full_int8_and_small(voice: VoiceModel) -> None:
    assert voice.model.path.stat().st_size <= 500_000
    assert voice.model.inputs[0].shape == (1, N_STATISTICS) and voice.model.inputs[0].dtype == "int8"
    assert sorted(o.shape[-1] for o in voice.model.outputs) == [2, 4]
    assert all(o.dtype == "int8" for o in voice.model.outputs)


def test_the_manifest_pins_the_feature_parameters_and_population_statistics() -> None:
    entry = tomllib.loads(manifest_path(MODELS).read_text(encoding="utf-8"))["models"]["voice"]
    assert entry["features"] == feature_description()
    assert entry["features"]["pitch"]["voicing_threshold"] == pytest.approx(0.6)
    assert len(entry["population_mean"]) == len(entry["population_std"]) == FRAME_DIM
    assert min(entry["population_std"]) > 0
    assert len(entry["statistics_mean"]) == len(entry["statistics_scale"]) == N_STATISTICS
    assert min(entry["statistics_scale"]) > 0
    assert tuple(entry["labels"]) == VOICE_EMOTIONS and tuple(entry["arousal_labels"]) == AROUSAL_CLASSES


def test_predict_gives_probabilities_and_the_same_scores_for_the_same_frames(voice: VoiceModel) -> None:
    frames = np.random.default_rng(0).normal(size=(200, FRAME_DIM)).astype(np.float32)
    first, second = voice.predict(frames), voice.predict(frames.copy())
    assert first == second
    assert set(first.arousal) == set(AROUSAL_CLASSES) and set(first.emotions) == set(VOICE_EMOTIONS)
    assert sum(first.arousal.values()) == pytest.approx(1.0)
    assert sum(first.emotions.values()) == pytest.approx(1.0)
    assert all(p >= 0 for p in [*first.arousal.values(), *first.emotions.values()])


def test_population_normalisation_uses_the_manifest_statistics(voice: VoiceModel) -> None:
    frames = voice.population_mean[None, :] + voice.population_std[None, :] * np.array([[0.0], [2.0]])
    np.testing.assert_allclose(voice.normalise_population(frames), [[0.0] * FRAME_DIM, [2.0] * FRAME_DIM], atol=1e-5)


def test_segment_statistics() -> None:
    x = np.random.default_rng(1).normal(size=(300, FRAME_DIM))
    stats = segment_statistics(x)
    assert stats.shape == (N_STATISTICS,) and stats.dtype == np.float32
    np.testing.assert_allclose(stats[: FRAME_DIM], x.mean(axis=0), atol=1e-5)
    np.testing.assert_allclose(stats[FRAME_DIM : 2 * FRAME_DIM], x.std(axis=0), atol=1e-5)
    assert np.abs(segment_statistics(x * 100)).max() == STAT_CLIP  # clipped, so int8 keeps its resolution
    with pytest.raises(ValueError, match="at least"):
        segment_statistics(x[: MIN_FRAMES - 1])
    with pytest.raises(ValueError, match="expected"):
        segment_statistics(x[:, :13])


def test_model_input_standardises_and_clips_into_minus_one_to_one() -> None:
    mean, scale = np.full(N_STATISTICS, 0.5), np.full(N_STATISTICS, 0.25)
    stats = np.full(N_STATISTICS, 1.0)
    stats[0], stats[1] = 100.0, -100.0
    u = model_input(stats, mean, scale)
    assert u.shape == (N_STATISTICS,) and u.dtype == np.float32
    assert u[2] == pytest.approx(2.0 / INPUT_CLIP)  # (1 - 0.5) / 0.25 = 2 standard units
    assert u[0] == 1.0 and u[1] == -1.0


def test_a_model_trained_without_the_pitch_columns_is_refused(tmp_path) -> None:
    """The manifest entry of a model from before pitch: MFCC parameters only. Loading it says to retrain."""
    text = manifest_path(MODELS).read_text(encoding="utf-8")
    entry = tomllib.loads(text)["models"]["voice"]
    old = ", ".join(f"{k} = {json.dumps(v)}" for k, v in MFCC.as_dict().items())  # JSON scalars are TOML's too
    start = text.index("\nfeatures = ", text.index("[models.voice]"))
    end = text.index("\n", start + 1)
    (tmp_path / "manifest.toml").write_text(text[:start] + f"\nfeatures = {{ {old} }}" + text[end:], encoding="utf-8")
    assert tomllib.loads((tmp_path / "manifest.toml").read_text())["models"]["voice"]["features"] == MFCC.as_dict()
    assert entry["features"] != MFCC.as_dict()
    with pytest.raises(ValueError, match="without the pitch columns"):
        VoiceModel.load(tmp_path)


def test_the_loaded_model_standardises_its_input_as_training_did(voice: VoiceModel) -> None:
    assert voice.statistics_mean is not None and voice.statistics_scale is not None
    frames = np.random.default_rng(2).normal(size=(150, FRAME_DIM)).astype(np.float32)
    expected = model_input(segment_statistics(frames), voice.statistics_mean, voice.statistics_scale)
    seen = []
    run = voice.model.run
    voice.model.run = lambda x: seen.append(x) or run(x)
    try:
        voice.predict(frames)
    finally:
        voice.model.run = run
    np.testing.assert_array_equal(seen[0], expected[None])


def test_population_input_gets_the_manifest_sharpness(voice: VoiceModel) -> None:
    """The graph's temperatures fit speaker-standardised input; population-standardised input is classified less
    accurately, so its probabilities are raised to population_sharpness (< 1: less confident) and renormalised,
    which is the softmax of the logits scaled by that power. The argmax stays."""
    entry = tomllib.loads(manifest_path(MODELS).read_text(encoding="utf-8"))["models"]["voice"]
    k_arousal, k_emotions = entry["population_sharpness"]
    assert voice.population_sharpness == pytest.approx((k_arousal, k_emotions))
    assert 0.2 < k_arousal < 1.0 and 0.2 < k_emotions < 1.0
    frames = np.random.default_rng(4).normal(0.3, 1.2, size=(250, FRAME_DIM)).astype(np.float32)
    plain, population = voice.predict(frames), voice.predict(frames, population=True)
    p = np.maximum(np.array([plain.emotions[c] for c in VOICE_EMOTIONS]), 0.5 / 256) ** k_emotions
    np.testing.assert_allclose([population.emotions[c] for c in VOICE_EMOTIONS], p / p.sum(), atol=1e-9)
    assert max(population.emotions.values()) < max(plain.emotions.values())
    assert max(population.emotions, key=population.emotions.get) == max(plain.emotions, key=plain.emotions.get)
    assert abs(population.arousal["high"] - 0.5) <= abs(plain.arousal["high"] - 0.5)
    assert sum(population.arousal.values()) == pytest.approx(1.0)


def test_sharpness_defaults_to_none_and_is_checked(voice: VoiceModel) -> None:
    entry = tomllib.loads(manifest_path(MODELS).read_text(encoding="utf-8"))["models"]["voice"]
    old = {k: v for k, v in entry.items() if k != "population_sharpness"}  # a manifest from before it
    plain = VoiceModel.from_entry(voice.model, old)
    assert plain.population_sharpness == (1.0, 1.0)
    frames = np.random.default_rng(5).normal(size=(120, FRAME_DIM)).astype(np.float32)
    assert plain.predict(frames, population=True) == plain.predict(frames)
    for bad in ((0.0, 0.5), (0.5,), (0.5, -1.0)):
        with pytest.raises(ValueError, match="population_sharpness"):
            VoiceModel.from_entry(voice.model, {**entry, "population_sharpness": list(bad)})


def test_expected_calibration_error() -> None:
    """The calibration that tools/eval_voice.py and the training tool's LOSO report."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
    from eval_voice import expected_calibration_error

    truth = np.array([0, 0, 1, 1])
    right = np.array([[0.9, 0.1], [0.9, 0.1], [0.1, 0.9], [0.1, 0.9]])  # 90 % sure, always right: 0.1 off
    assert expected_calibration_error(right, truth)["ece"] == pytest.approx(0.1)
    half = np.array([[0.55, 0.45], [0.45, 0.55], [0.45, 0.55], [0.55, 0.45]])  # 55 % sure, right half the time
    m = expected_calibration_error(half, truth)
    assert m["ece"] == pytest.approx(0.05) and m["accuracy"] == 0.5 and m["confidence"] == pytest.approx(0.55)
    assert expected_calibration_error(np.zeros((0, 2)), truth[:0])["ece"] is None

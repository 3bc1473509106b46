"""Fusion of arousal and stress: freshness, quality weighting, smoothing, and the facial arousal proxy."""

from __future__ import annotations

import math

import pytest

from edge.config import Config, FusionConfig
from edge.modalities.physio import fusion_vote as physio_estimate
from edge.monitor.driver import DriverMonitor, fusion_max_ages
from edge.monitor.fusion import (
    FACE_AROUSAL_WEIGHTS,
    Fusion,
    ModalityEstimate,
    face_arousal,
    face_estimate,
    stress_level,
)
from edge.types import EMOTION_LABELS, EmotionEstimate, FaceObservation, PhysioEstimate


def est(name: str, t: float, arousal=None, stress=None, quality=1.0) -> ModalityEstimate:
    return ModalityEstimate(name, t, arousal, stress, quality)


AGES = fusion_max_ages(Config())  # face, voice, physio: the registered modalities that vote


def test_stale_and_missing_sources_are_left_out_and_named():
    f = Fusion(FusionConfig(), AGES)
    # voice is 10.5 s old (max 10 s), physio has never reported
    state = f.step(20.0, {"face": est("face", 19.5, arousal=0.3), "voice": est("voice", 9.5, arousal=0.9, stress=0.9)})
    assert state.arousal == pytest.approx(0.3) and state.stress is None
    assert state.sources == ("face",) and state.stale == ("voice",) and state.missing == ("physio",)
    assert state.arousal_sources == ("face",) and state.stress_sources == ()


@pytest.mark.parametrize("age, fresh", [(1.0, True), (1.01, False)])
def test_max_age_boundary(age, fresh):
    state = Fusion(FusionConfig(), AGES).step(5.0, {"face": est("face", 5.0 - age, arousal=0.4)})
    assert (state.arousal is not None) is fresh
    assert state.stale == (() if fresh else ("face",))


def test_quality_weighted_mean():
    f = Fusion(FusionConfig(), AGES)
    state = f.step(
        1.0,
        {
            "face": est("face", 1.0, arousal=0.2, quality=0.25),
            "voice": est("voice", 1.0, arousal=0.8, stress=0.6, quality=0.75),
            "physio": est("physio", 1.0, stress=0.2, quality=0.25),
        },
    )
    assert state.arousal == pytest.approx((0.2 * 0.25 + 0.8 * 0.75) / 1.0)
    assert state.stress == pytest.approx((0.6 * 0.75 + 0.2 * 0.25) / 1.0)
    assert state.sources == ("face", "voice", "physio") and state.stress_sources == ("voice", "physio")


def test_a_source_of_quality_zero_does_not_vote():
    state = Fusion(FusionConfig(), AGES).step(
        1.0, {"face": est("face", 1.0, arousal=0.9, quality=0.0), "voice": est("voice", 1.0, arousal=0.1)}
    )
    assert state.arousal == pytest.approx(0.1) and state.sources == ("voice",)


@pytest.mark.parametrize("dt", [1 / 30, 0.5, 0.37])
def test_smoothing_reaches_63_percent_after_one_time_constant(dt):
    cfg = FusionConfig(arousal_tau_s=3.0, stress_tau_s=30.0)
    f = Fusion(cfg, AGES)
    f.step(0.0, {"physio": est("physio", 0.0, arousal=0.0, stress=0.0)})
    t, state = 0.0, None
    for _ in range(int(round(30.0 / dt))):
        t += dt
        state = f.step(t, {"physio": est("physio", t, arousal=1.0, stress=1.0)})
        if abs(t - 3.0) < dt / 2:
            assert state.arousal == pytest.approx(1.0 - math.exp(-t / 3.0), abs=1e-9)
            assert state.stress == pytest.approx(1.0 - math.exp(-t / 30.0), abs=1e-9)
    assert state is not None and state.stress == pytest.approx(1.0 - math.exp(-t / 30.0), abs=1e-9)
    assert state.arousal > 0.9999


def test_no_fresh_source_gives_none_and_the_filter_restarts():
    f = Fusion(FusionConfig(), AGES)
    f.step(0.0, {"voice": est("voice", 0.0, stress=0.1)})
    f.step(1.0, {"voice": est("voice", 1.0, stress=0.1)})
    gone = f.step(20.0, {"voice": est("voice", 1.0, stress=0.1)})  # 19 s old
    assert gone.stress is None and gone.sources == () and gone.stale == ("voice",)
    back = f.step(21.0, {"voice": est("voice", 21.0, stress=0.9)})
    assert back.stress == pytest.approx(0.9)  # nothing carried over the gap


def test_unknown_or_misnamed_modality_is_an_error():
    f = Fusion(FusionConfig(), AGES)
    with pytest.raises(ValueError, match="unknown"):
        f.step(0.0, {"eeg": est("face", 0.0, arousal=0.5)})
    with pytest.raises(ValueError, match="handed in as"):
        f.step(0.0, {"voice": est("face", 0.0, arousal=0.5)})


def _emotion(**scores: float) -> EmotionEstimate:
    full = dict.fromkeys(EMOTION_LABELS, 0.0) | scores
    return EmotionEstimate(full, 1.0)


def test_face_arousal_knows_every_emotion():
    assert set(FACE_AROUSAL_WEIGHTS) == set(EMOTION_LABELS)


def test_face_arousal_orders_the_emotions():
    anger, neutral, sadness, disgust, contempt = (
        face_arousal(_emotion(**{k: 1.0})) for k in ("anger", "neutral", "sadness", "disgust", "contempt")
    )
    assert anger > disgust > contempt > sadness > neutral
    for label in ("anger", "fear", "surprise", "happiness"):
        assert face_arousal(_emotion(**{label: 1.0})) > 0.6
    mixed = face_arousal(_emotion(anger=0.5, neutral=0.5))
    assert mixed == pytest.approx((FACE_AROUSAL_WEIGHTS["anger"] + FACE_AROUSAL_WEIGHTS["neutral"]) / 2)
    assert face_arousal(_emotion(anger=1.0, neutral=1.0)) == pytest.approx(mixed)  # scores are normalised
    # nothing usable: the face does not vote (an emotion model's glitch must not stop the monitor)
    assert face_arousal(EmotionEstimate({}, 0.0)) is None
    assert face_arousal(EmotionEstimate({"anger": float("nan"), "calm": 1.0}, 0.0)) is None


def test_face_estimate_is_a_face_modality_without_stress():
    e = face_estimate(_emotion(fear=1.0), quality=0.8)
    assert (e.name, e.t, e.stress, e.quality) == ("face", 1.0, None, 0.8)
    assert e.arousal == pytest.approx(FACE_AROUSAL_WEIGHTS["fear"])


def _physio(t: float, high: float | None, ecg_quality: float = 0.9, eda_quality: float = 0.6) -> PhysioEstimate:
    stress = None if high is None else {"low": (1 - high) / 2, "medium": (1 - high) / 2, "high": high}
    return PhysioEstimate(t, 70.0, 40.0, 50.0, 0.2, ecg_quality, 5.0, 3.0, eda_quality, stress=stress,
                          baseline_remaining_s=0.0, reason=None if stress else "baseline")


def test_physio_estimate_is_p_high_with_the_better_signal_quality():
    e = physio_estimate(_physio(3.0, 0.8, ecg_quality=0.4, eda_quality=0.7))
    assert e is not None and (e.name, e.t, e.arousal, e.stress, e.quality) == ("physio", 3.0, None, 0.8, 0.7)
    assert physio_estimate(_physio(3.0, None)) is None  # not classified: it does not vote
    assert physio_estimate(PhysioEstimate.unknown(3.0, "no_sensor")) is None


def test_the_monitor_fuses_physio_and_leaves_a_stale_estimate_out():
    monitor = DriverMonitor(Config(), "test", present={"physio"})
    first = monitor.step(FaceObservation.absent(0.5, 1))
    assert first.estimate("physio").reason == "no_sensor" and "physio" in first.fusion.missing
    state = monitor.step(FaceObservation.absent(5.0, 2), estimates={"physio": _physio(5.0, 0.8)})
    assert state.fusion.stress == pytest.approx(0.8) and state.fusion.stress_sources == ("physio",)
    assert state.stress_level == "high" and state.estimate("physio").stress_level == "high"
    # a window the model could not classify keeps the last classified one until it is stale
    state = monitor.step(FaceObservation.absent(10.0, 3), estimates={"physio": _physio(10.0, None)})
    assert state.estimate("physio").reason == "baseline" and state.fusion.stress_sources == ("physio",)
    late = 5.0 + Config().fusion.physio_max_age_s + 0.5
    state = monitor.step(FaceObservation.absent(late, 4))
    assert state.fusion.stress is None and state.fusion.stale == ("physio",) and state.stress_level is None
    assert DriverMonitor(Config(), "test").step(FaceObservation.absent(0.5, 1)).estimate("physio").reason == "off"


@pytest.mark.parametrize("score, level", [(None, None), (0.0, "low"), (0.34, "low"), (0.35, "medium"),
                                          (0.69, "medium"), (0.7, "high"), (1.0, "high")])
def test_stress_level_against_the_alert_threshold(score, level):
    assert stress_level(score, 0.7) == level

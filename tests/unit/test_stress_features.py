"""The stress model's inputs (edge/physio/features.py): the driver's baseline and the relative features; and the
beats tools/stress_data.py rebuilds from drivedb's heart-rate channel."""

import sys
from pathlib import Path

import numpy as np
import pytest

from edge.physio.eda import Eda
from edge.physio.features import (
    FEATURE_NAMES,
    Baseline,
    Heart,
    Skin,
    WindowMeasures,
    feature_vector,
    heart_measures,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from stress_data import beats_from_hr  # noqa: E402

F = {name: i for i, name in enumerate(FEATURE_NAMES)}


def heart(hr: float = 60.0, rmssd: float = 50.0) -> Heart:
    return Heart(hr, rmssd, 60.0, 0.2, 3.0)


def skin(scl: float = 4.0, rate: float = 2.0) -> Skin:
    return Skin(Eda(scl, 0.0, rate, 0.04, 1.0, ()), 0.05)


def fed(base: Baseline, start: float, end: float, **kw) -> None:
    for t in np.arange(start, end + 1e-9, 5.0):
        base.update(WindowMeasures(float(t), kw.get("heart", heart()), kw.get("skin", skin())))


def test_baseline_completes_after_its_span_and_then_stays():
    base = Baseline(span_s=300.0)
    assert base.remaining_s(0.0) is None  # nothing usable yet
    fed(base, 60.0, 200.0)
    assert base.heart is None and base.remaining_s(200.0) == pytest.approx(160.0)
    fed(base, 205.0, 360.0)
    assert base.heart is None  # the window at exactly start + span still belongs to the baseline
    fed(base, 365.0, 365.0, heart=heart(90.0), skin=skin(8.0))
    assert base.heart.hr_bpm == pytest.approx(60.0) and base.skin.eda.scl == pytest.approx(4.0)
    assert base.remaining_s(365.0) == 0.0
    fed(base, 370.0, 900.0, heart=heart(120.0), skin=skin(20.0))  # later windows do not move it
    assert base.heart.hr_bpm == pytest.approx(60.0) and base.skin.eda.scl == pytest.approx(4.0)


def test_baseline_completes_when_a_signal_is_lost_at_the_end_of_its_span():
    base = Baseline(span_s=100.0)
    fed(base, 60.0, 150.0)
    fed(base, 155.0, 175.0, heart=None)  # the ECG leads come off before the span is over
    assert base.heart is not None and base.heart.hr_bpm == pytest.approx(60.0)
    assert base.remaining_s(175.0) == 0.0


def test_baseline_median_ignores_a_few_odd_windows():
    base = Baseline(span_s=100.0)
    for i, t in enumerate(np.arange(60.0, 170.0, 5.0)):
        base.update(WindowMeasures(float(t), heart(150.0 if i % 7 == 0 else 62.0), None))
    assert base.heart.hr_bpm == pytest.approx(62.0)
    assert base.skin is None and base.remaining_s(200.0) == 0.0  # no skin signal seen: nothing to wait for


def test_features_are_relative_to_the_baseline():
    base = Baseline(span_s=10.0)
    fed(base, 60.0, 75.0)
    x = feature_vector(WindowMeasures(80.0, heart(hr=72.0, rmssd=25.0), skin(scl=8.0, rate=6.0)), base)
    assert x.dtype == np.float32 and x.shape == (len(FEATURE_NAMES),)
    assert x[F["hr"]] == pytest.approx(0.2)
    assert x[F["rmssd"]] == pytest.approx(np.log(0.5))
    assert x[F["scl"]] == pytest.approx(np.log(2.0))
    assert x[F["scr_rate"]] == pytest.approx(np.log(7.0 / 3.0))
    assert x[F["has_ecg"]] == 1.0 and x[F["has_eda"]] == 1.0
    same = feature_vector(WindowMeasures(80.0, heart(), skin()), base)
    others = [i for i in range(F["has_ecg"]) if i != F["scr_amplitude"]]
    assert np.allclose(same[others], 0.0)  # the baseline itself is the origin...
    assert same[F["scr_amplitude"]] == pytest.approx(0.01)  # ...but response size is a share of the resting level


def test_a_missing_modality_enters_as_zeros_with_its_flag_down():
    base = Baseline(span_s=10.0)
    fed(base, 60.0, 75.0)
    x = feature_vector(WindowMeasures(80.0, None, skin(scl=8.0)), base)
    assert x[F["has_ecg"]] == 0.0 and np.all(x[: F["scl"]] == 0.0) and x[F["scl"]] > 0.0
    assert feature_vector(WindowMeasures(80.0, None, None), base) is None
    assert feature_vector(WindowMeasures(80.0, heart(), skin()), Baseline()) is None  # no baseline yet


def test_features_are_clipped_and_finite():
    base = Baseline(span_s=10.0)
    fed(base, 60.0, 75.0, skin=skin(scl=1e-6))
    x = feature_vector(WindowMeasures(80.0, heart(hr=1e6, rmssd=None), skin(scl=5.0)), base)
    assert np.all(np.isfinite(x)) and np.all(np.abs(x) <= 5.0)
    assert x[F["rmssd"]] == 0.0  # unknown RMSSD: no change claimed


def test_heart_measures_from_beats():
    beats = np.cumsum(np.tile([0.8, 0.9], 50))  # alternating RR: 50 ms successive differences... over 100 beats
    h = heart_measures(beats, 10.0, 70.0)
    assert h.hr_bpm == pytest.approx(60.0 / 0.85, rel=0.01)
    assert h.rmssd_ms == pytest.approx(100.0, rel=0.01)
    assert h.hr_std_bpm == pytest.approx(np.std([60 / 0.8, 60 / 0.9], ddof=0), rel=0.1)
    assert heart_measures(beats[:5], 0.0, 60.0) is None


def test_beats_rebuilt_from_a_heart_rate_channel():
    t = np.arange(0.0, 120.0, 1 / 15.5)
    hr = np.where(t < 60.0, 60.0, 120.0)
    hr[(t > 30.0) & (t < 35.0)] = np.nan  # a dropout: no beats there
    beats = beats_from_hr(t, hr)
    rr = np.diff(beats)
    assert np.allclose(rr[beats[1:] < 30.0], 1.0)
    assert np.allclose(rr[beats[:-1] > 61.0], 0.5)
    assert not np.any((beats > 30.5) & (beats < 35.0))

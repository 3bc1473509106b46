"""The physiology stage (edge/physio/stage.py) on synthetic sensor streams with known beats and responses."""

from __future__ import annotations

import logging
import math
import random

import numpy as np
import pytest

from edge.config import Config, PhysioConfig
from edge.physio.ecg import hrv
from edge.physio.features import FEATURE_NAMES
from edge.physio.stage import PhysioStage, load_stress_model
from edge.sources.serial_lines import PhysioSample
from edge.types import PhysioEstimate
from tests.physio_signals import (
    beat_times,
    clean_stream,
    microsiemens_to_grove,
    samples,
    synthetic_ecg,
    synthetic_gsr,
)

FAST = PhysioConfig(baseline_s=30.0)  # a 30 s baseline keeps the streams short


def run(stage: PhysioStage, stream: list[PhysioSample], until: float, poll_hz: float = 10.0) -> list[PhysioEstimate]:
    """Poll at poll_hz from 0 to `until`, feeding before each poll every sample up to its time (as replay does)."""
    out, i = [], 0
    for k in range(1, int(until * poll_hz) + 1):
        t = k / poll_hz
        j = i
        while j < len(stream) and stream[j].t <= t:
            j += 1
        stage.feed(stream[i:j])
        i = j
        estimate = stage.poll(t)
        if estimate is not None:
            out.append(estimate)
    return out


def at(estimates: list[PhysioEstimate], t: float) -> PhysioEstimate:
    return min(estimates, key=lambda e: abs(e.t - t))


class FakeModel:
    """Stands in for the int8 stress model: records what it was given."""

    def __init__(self):
        self.seen: list[np.ndarray] = []

    def predict(self, features: np.ndarray) -> dict[str, float]:
        self.seen.append(features)
        return {"low": 0.2, "medium": 0.3, "high": 0.5}


def test_a_clean_stream_gives_the_true_heart_rate_hrv_and_skin_conductance():
    stream, beats = clean_stream(100.0)
    estimates = run(PhysioStage(FAST, None), stream, 100.0)
    last = estimates[-1]
    truth = hrv(beats, last.t - 60.0, last.t)
    assert last.hr_bpm == pytest.approx(truth.hr_bpm, abs=2.0)
    assert last.rmssd_ms == pytest.approx(truth.rmssd_ms, rel=0.15)
    assert last.sdnn_ms == pytest.approx(truth.sdnn_ms, rel=0.15)
    assert last.ecg_quality > 0.9 and last.eda_quality > 0.99 and last.eda_flags == ()
    # the Grove readings come back as the synthetic ~5 µS, with its response every 15 s
    assert last.scl == pytest.approx(5.0, rel=0.05) and 3.0 <= last.scr_rate_per_min <= 5.0
    assert last.reason == "no_model" and last.stress is None


def test_leads_off_drops_the_heart_but_keeps_the_skin():
    stream, _ = clean_stream(120.0, leads_off=((70.0, 120.0),))
    estimates = run(PhysioStage(FAST, None), stream, 120.0)
    before, after = at(estimates, 65.0), at(estimates, 120.0)
    assert before.hr_bpm is not None and before.ecg_quality > 0.9
    assert after.ecg_quality < 0.3 < before.ecg_quality
    assert after.hr_bpm is None and after.rmssd_ms is None and after.sdnn_ms is None and after.pnn50 is None
    assert after.scl is not None and after.eda_quality > 0.9
    assert after.reason == "no_model"  # the skin alone still makes a window for the model


def test_a_gap_in_the_stream_counts_as_missing_signal():
    # 20 s of nothing from the sensor (lost lines, not leads-off): the window's quality falls by its share
    stream, beats = clean_stream(100.0, missing=((70.0, 90.0),))
    e = at(run(PhysioStage(FAST, None), stream, 100.0), 100.0)
    assert 0.55 < e.ecg_quality < 0.7 and 0.55 < e.eda_quality < 0.7
    truth = beats[(beats >= 40.0) & (beats <= 100.0)]
    assert e.hr_bpm == pytest.approx(60.0 / np.mean(np.diff(truth)), abs=2.0)  # no interval spans the gap


def test_a_gsr_only_sensor():
    gsr = microsiemens_to_grove(synthetic_gsr(60.0))
    e = run(PhysioStage(FAST, None), samples(60.0, None, gsr), 60.0)[-1]
    assert e.ecg_quality == 0.0 and e.hr_bpm is None
    assert e.scl == pytest.approx(5.0, rel=0.05) and e.eda_quality > 0.9 and e.reason == "baseline"


def test_an_ecg_only_sensor():
    beats = beat_times(60.0)
    e = run(PhysioStage(FAST, None), samples(60.0, synthetic_ecg(beats, 60.0), None), 60.0)[-1]
    assert e.hr_bpm == pytest.approx(75.0, abs=2.0)
    assert e.eda_quality == 0.0 and e.eda_flags == () and e.scl is None and e.scr_rate_per_min is None
    assert e.reason == "baseline"


def test_a_flat_gsr_is_flagged_and_not_used():
    beats = beat_times(60.0)
    flat = np.full(int(60 * 250), 400.0)
    e = run(PhysioStage(FAST, None), samples(60.0, synthetic_ecg(beats, 60.0), flat), 60.0)[-1]
    assert "flat" in e.eda_flags and e.eda_quality == 0.0 and e.scl is None
    assert e.hr_bpm is not None and e.reason == "baseline"
    # with nothing else usable there is no signal at all
    e = run(PhysioStage(FAST, None), samples(60.0, None, flat), 60.0)[-1]
    assert e.reason == "no_signal" and "flat" in e.eda_flags


def test_an_open_grove_board_is_no_contact():
    # nothing between the electrodes: the board reads at or above its open reading (512)
    open_board = np.full(int(60 * 250), 515.0) + np.random.default_rng(0).normal(0, 1, int(60 * 250))
    e = run(PhysioStage(FAST, None), samples(60.0, None, open_board), 60.0)[-1]
    assert "no_contact" in e.eda_flags and e.reason == "no_signal"


@pytest.mark.parametrize("unit", ["microsiemens", "raw"])
def test_other_gsr_units_are_used_as_sent(unit):
    us = synthetic_gsr(60.0, level_us=12.0)
    e = run(PhysioStage(PhysioConfig(gsr_unit=unit), None), samples(60.0, None, us), 60.0)[-1]
    assert e.scl == pytest.approx(12.0, rel=0.05)


def test_integer_grove_readings_are_not_taken_for_clipping():
    gsr = np.round(microsiemens_to_grove(synthetic_gsr(60.0)))  # what analogRead() sends
    e = run(PhysioStage(FAST, None), samples(60.0, None, gsr), 60.0)[-1]
    assert e.eda_flags == ()


def test_baseline_then_no_model_then_the_model():
    stream, _ = clean_stream(100.0)
    estimates = run(PhysioStage(FAST, None), stream, 100.0)
    learning = [e for e in estimates if e.reason == "baseline"]
    assert len(learning) >= 4
    # counted from each modality's first usable window: the skin's came a hop before the heart's, so the heart
    # sets what remains; it then falls by a hop per estimate
    remaining = [e.baseline_remaining_s for e in learning]
    assert remaining[0] == pytest.approx(30.0) and remaining[-1] <= 5.0
    assert all(b == pytest.approx(a - 5.0) for a, b in zip(remaining[1:], remaining[2:]))
    done = [e for e in estimates if e.t > learning[-1].t]
    assert done and all(e.reason == "no_model" and e.baseline_remaining_s == 0.0 for e in done)
    assert all(e.stress is None and e.stress_level == "unknown" for e in estimates)

    model = FakeModel()
    estimates = run(PhysioStage(FAST, model), stream, 100.0)  # type: ignore[arg-type]  # duck-typed model
    classified = [e for e in estimates if e.stress is not None]
    assert classified and all(e.reason is None and e.stress_level == "high" for e in classified)
    assert len(model.seen) == len(classified) and all(f.shape == (len(FEATURE_NAMES),) for f in model.seen)
    # (has_ecg, has_eda): the skin's baseline is complete a hop before the heart's, then both go in
    assert tuple(model.seen[0][-2:]) == (0.0, 1.0) and tuple(model.seen[-1][-2:]) == (1.0, 1.0)


def test_an_estimate_only_every_hop():
    stream, _ = clean_stream(40.0)
    estimates = run(PhysioStage(FAST, None), stream, 40.0, poll_hz=30.0)
    times = [e.t for e in estimates]
    assert len(times) == 7 and times[0] == pytest.approx(5.0 + 1 / 30.0)  # one hop after the first poll
    assert np.allclose(np.diff(times), 5.0, atol=1 / 30.0)
    stage = PhysioStage(FAST, None)
    assert stage.poll(0.0) is None and stage.poll(4.9) is None and stage.poll(5.0) is not None
    assert stage.poll(5.1) is None
    assert stage.poll(100.0) is not None and stage.poll(101.0) is None  # late: one estimate, not a burst


def test_no_sample_in_the_window_is_no_sensor():
    stage = PhysioStage(FAST, None)
    assert stage.estimate(10.0).reason == "no_sensor"
    stream, _ = clean_stream(30.0)
    stage.feed(stream)
    assert stage.estimate(30.0).reason != "no_sensor"
    e = stage.estimate(100.0)  # the sensor stopped 70 s ago
    assert e.reason == "no_sensor" and e.hr_bpm is None and e.ecg_quality == 0.0


def test_bad_input_never_raises():
    stream, _ = clean_stream(70.0)
    rng = random.Random(4)
    shuffled = stream[:]
    rng.shuffle(shuffled)
    bad = [
        PhysioSample(math.nan, 1.0, 400.0, None, False),
        PhysioSample(math.inf, 1.0, 400.0, None, False),
        PhysioSample(10.0, math.inf, math.nan, None, False),
        PhysioSample(10.0, math.nan, -math.inf, None, False),
        PhysioSample(20.0, None, None, None, False),
        PhysioSample(30.0, None, None, None, True),
    ]
    stage = PhysioStage(Config(), None)
    stage.feed(shuffled[: len(shuffled) // 2] + bad + shuffled[len(shuffled) // 2 :])
    stage.feed([])
    assert stage.dropped > len(stream) // 2  # what came after a later sample
    for t in (0.0, 35.0, 70.0, 1e9, -5.0):
        assert isinstance(stage.estimate(t), PhysioEstimate)
    assert stage.poll(math.nan) is None

    # a stream in order with NaN, inf and huge values mixed in
    mixed = [PhysioSample(s.t, (math.inf if i % 97 == 0 else 1e300 if i % 89 == 0 else s.ecg),
                          (math.nan if i % 53 == 0 else s.gsr), None, i % 41 == 0) for i, s in enumerate(stream)]
    stage = PhysioStage(Config(), None)
    stage.feed(mixed)
    assert isinstance(stage.estimate(70.0), PhysioEstimate)
    # duplicates are dropped: a second copy of the stream changes nothing
    stage.feed(mixed)
    assert stage.dropped == len(mixed)


@pytest.mark.filterwarnings("error")  # an overflow inside numpy would only warn: here it fails
def test_absurd_values_count_as_missing_without_overflowing():
    stream, beats = clean_stream(70.0)
    absurd = [PhysioSample(s.t, 1e300 if i % 50 == 0 else s.ecg, -1e308 if i % 50 == 25 else s.gsr, None, False)
              for i, s in enumerate(stream)]
    clean, spoiled = PhysioStage(FAST, None), PhysioStage(FAST, None)
    clean.feed(stream)
    spoiled.feed(absurd)
    a, b = clean.estimate(70.0), spoiled.estimate(70.0)
    assert b.hr_bpm == pytest.approx(a.hr_bpm, abs=1.0) and b.ecg_quality > 0.8  # 2 % of samples missing
    assert b.scl == pytest.approx(a.scl, rel=0.01) and b.eda_flags == ()


def test_the_stage_keeps_only_the_last_window():
    stream, _ = clean_stream(200.0)
    stage = PhysioStage(Config(), None)
    stage.feed(stream)
    assert len(stage._ecg_t) <= (60.0 + 5.0) * 250 + 1


def test_without_a_stress_entry_in_the_manifest_the_stage_runs_without_a_model(tmp_path, caplog):
    (tmp_path / "manifest.toml").write_text('[models.other]\nfile = "x.tflite"\nsha256 = "00"\n')
    cfg = Config()
    with caplog.at_level(logging.INFO, logger="edge.physio"):
        model, problem = load_stress_model(cfg, tmp_path)
    assert model is None and "no stress model" in problem and "no stress model" in caplog.text
    stage = PhysioStage.from_config(cfg, tmp_path)
    assert stage.model is None and stage.model_problem == problem
    off = Config.model_validate({"physio": {"stress_model": False}})
    assert load_stress_model(off, tmp_path) == (None, None)  # turned off: nothing is wrong


def test_a_stress_entry_without_its_file_is_logged_and_skipped(tmp_path, caplog):
    (tmp_path / "manifest.toml").write_text(
        f'[models.stress]\nfile = "stress.tflite"\nsha256 = "00"\nfeatures = {list(FEATURE_NAMES)!r}\n'
        "feature_scale = [1.0]\n".replace("'", '"')
    )
    with caplog.at_level(logging.WARNING, logger="edge.physio"):
        model, problem = load_stress_model(Config(), tmp_path)
    assert model is None and "stress model not loaded" in problem
    assert "stress model not loaded" in caplog.text and "missing" in caplog.text

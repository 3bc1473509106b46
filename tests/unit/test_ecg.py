"""R-peak detection, NN-interval HRV and signal quality (edge/physio/ecg.py) on synthetic ECG with known beats."""

import math

import numpy as np
import pytest

from edge.physio.ecg import Hrv, bridge_short_gaps, detect_r_peaks, hrv, nn_intervals, signal_quality
from tests.physio_signals import FS, beat_times, synthetic_ecg


def assert_matches(peaks: np.ndarray, beats: np.ndarray, fs: float = FS, within_s: float = 0.02) -> None:
    assert peaks.dtype == np.int64 and np.all(np.diff(peaks) > 0)
    assert len(peaks) == len(beats), f"{len(peaks)} peaks for {len(beats)} beats"
    assert np.max(np.abs(peaks / fs - beats)) <= within_s


@pytest.mark.parametrize("polarity", [1.0, -1.0])
@pytest.mark.parametrize("fs", [250.0, 500.0])
def test_r_peaks_within_20_ms_of_the_true_beats_in_a_60_s_window(polarity, fs):
    beats = beat_times(60.0)
    assert_matches(detect_r_peaks(synthetic_ecg(beats, 60.0, fs, polarity), fs), beats, fs)


def test_tall_t_waves_give_no_extra_beats():
    beats = beat_times(60.0, seed=2)
    # a T wave as tall as the R peak, and at 130 bpm with a tall T
    assert_matches(detect_r_peaks(synthetic_ecg(beats, 60.0, t_height=1.0), FS), beats)
    fast = beat_times(60.0, mean_rr=0.46, seed=3)
    assert_matches(detect_r_peaks(synthetic_ecg(fast, 60.0, t_height=0.8), FS), fast)
    # a hyperacute T: 1.5 times the R and narrow enough to pass the band-pass; only the slope check (a hump within
    # 360 ms of a QRS with under half its steepest slope) rejects it
    steep = beat_times(60.0, seed=3)
    assert_matches(detect_r_peaks(synthetic_ecg(steep, 60.0, t_height=1.5, t_width=0.04), FS), steep)


def test_a_beat_after_a_sudden_drop_in_qrs_size_is_still_found():
    beats = beat_times(60.0, seed=4)
    x = synthetic_ecg(beats, 60.0, noise=0.005)
    x[int(30 * FS) :] *= 0.25  # an electrode moves: the QRS shrinks to a quarter, its energy to 1/16
    assert_matches(detect_r_peaks(x, FS), beats)


def test_an_artefact_burst_at_the_start_does_not_blind_the_detector():
    # 7 s of large 9 Hz motion artefact set the initial levels eight times too high
    beats = beat_times(60.0, seed=8)
    x = synthetic_ecg(beats, 60.0)
    burst = slice(0, int(7 * FS))
    x[burst] += 8 * np.sin(2 * np.pi * 9 * np.arange(burst.stop) / FS)
    peaks = detect_r_peaks(x, FS)
    assert_matches(peaks[peaks > 8 * FS], beats[beats > 8])


def test_nan_gaps_split_the_signal_and_short_runs_give_nothing():
    beats = beat_times(60.0, seed=5)
    x = synthetic_ecg(beats, 60.0)
    x[int(20 * FS) : int(21 * FS)] = np.nan
    x[int(40 * FS) : int(44 * FS)] = np.nan
    x[int(45.9 * FS) : int(50 * FS)] = np.nan  # leaves a 1.9 s run (two beats) at 44-45.9 s
    peaks = detect_r_peaks(x, FS)
    assert np.all(np.isfinite(x[peaks]))
    t = peaks / FS
    assert not np.any((t > 40) & (t < 50))
    # every peak is a true beat; every beat away from the gaps is found
    assert np.min(np.abs(t[:, None] - beats[None, :]), axis=1).max() <= 0.02
    clear = beats[(np.abs(beats - 20.5) > 1.0) & ((beats < 39.5) | (beats > 50.5))]
    assert np.min(np.abs(clear[:, None] - t[None, :]), axis=1).max() <= 0.02

    short = np.full(int(30 * FS), np.nan)
    short[int(10 * FS) : int(11.9 * FS)] = synthetic_ecg(beat_times(1.9), 1.9)[: int(1.9 * FS)]
    assert len(detect_r_peaks(short, FS)) == 0


@pytest.mark.parametrize(
    "signal",
    [np.zeros(15000), np.full(15000, 3.3), np.full(15000, np.nan), np.array([]), np.array([1.0]), np.ones(10)],
    ids=["flat", "constant", "all-nan", "empty", "one-sample", "ten-samples"],
)
def test_no_peaks_and_zero_quality_without_a_signal(signal):
    peaks = detect_r_peaks(signal, FS)
    assert peaks.dtype == np.int64 and len(peaks) == 0
    assert signal_quality(signal, FS, peaks) == 0.0
    if len(signal) > 1000:  # peaks from elsewhere do not make a flat signal good
        assert signal_quality(signal, FS, np.arange(250, len(signal) - 250, 200)) == 0.0


@pytest.mark.parametrize("fs", [0.0, -250.0, float("nan")])
def test_a_bad_sampling_rate_raises(fs):
    with pytest.raises(ValueError):
        detect_r_peaks(np.zeros(1000), fs)
    with pytest.raises(ValueError):
        signal_quality(np.zeros(1000), fs, np.array([], dtype=np.int64))


def test_a_2d_array_raises():
    with pytest.raises(ValueError):
        detect_r_peaks(np.zeros((1000, 2)), FS)


def test_quality_orders_clean_over_noisy_over_pure_noise():
    beats = beat_times(60.0, seed=6)
    clean = synthetic_ecg(beats, 60.0)
    noisy = synthetic_ecg(beats, 60.0, noise=0.25)
    pure = np.random.default_rng(7).normal(size=int(60 * FS))
    q = [signal_quality(x, FS, detect_r_peaks(x, FS)) for x in (clean, noisy, pure)]
    assert 0.9 < q[0] <= 1.0
    assert q[0] > q[1] > q[2] >= 0.0
    assert q[2] < 0.3
    # half the window missing halves the quality
    gappy = clean.copy()
    gappy[: len(gappy) // 2] = np.nan
    assert signal_quality(gappy, FS, detect_r_peaks(gappy, FS)) == pytest.approx(q[0] / 2, rel=0.05)


def times_from(rr: list[float] | np.ndarray, start: float = 0.0) -> np.ndarray:
    return start + np.concatenate(([0.0], np.cumsum(rr)))


def test_hrv_of_a_constant_rr_is_zero_variability():
    h = hrv(times_from([0.8] * 75), 0.0, 60.0)
    assert isinstance(h, Hrv)
    assert h.hr_bpm == pytest.approx(75.0)
    assert h.rmssd_ms == pytest.approx(0.0, abs=1e-6) and h.sdnn_ms == pytest.approx(0.0, abs=1e-6)
    assert h.pnn50 == 0.0 and h.n_beats == 76 and h.n_nn == 75 and h.artifact_fraction == 0.0


def test_hrv_of_known_rr_patterns():
    # 0.8, 0.9 alternating: every successive difference is 100 ms
    rr = [0.8, 0.9] * 33
    h = hrv(times_from(rr), 0.0, 60.0)
    assert h.rmssd_ms == pytest.approx(100.0)
    assert h.sdnn_ms == pytest.approx(1000 * np.sqrt(66 * 0.05**2 / 65))  # sample SD (n - 1)
    assert h.pnn50 == 1.0 and h.hr_bpm == pytest.approx(60 / 0.85)
    # 0.8, 0.8, 0.9, 0.9, ...: successive differences alternate 0 and 100 ms
    rr = [0.8, 0.8, 0.9, 0.9] * 17
    h = hrv(times_from(rr), 0.0, 60.0)
    assert h.rmssd_ms == pytest.approx(1000 * np.sqrt(33 * 0.1**2 / 67))  # 67 differences, 33 of them 100 ms
    assert h.pnn50 == pytest.approx(33 / 67)


def test_a_missed_beat_an_extra_beat_and_an_ectopic_are_rejected():
    base = [0.8] * 75
    missed = base[:30] + [1.6] + base[32:]  # one beat missed: two intervals merged into one
    extra = base[:30] + [0.35, 0.45] + base[31:]  # a spurious beat splits one interval
    ectopic = base[:30] + [0.5, 1.1] + base[32:]  # a premature beat and its compensatory pause
    for rr, rejected in ((missed, 1), (extra, 2), (ectopic, 2)):
        h = hrv(times_from(rr), 0.0, 61.0)
        assert h.rmssd_ms == pytest.approx(0.0, abs=1e-6), rr[28:34]  # no difference across a rejected interval
        assert h.hr_bpm == pytest.approx(75.0)
        assert h.n_nn == len(rr) - rejected
        assert h.artifact_fraction == pytest.approx(rejected / len(rr))
    ends, kept = nn_intervals(times_from(missed))
    assert len(kept) == len(missed) - 1 and np.all(kept == pytest.approx(0.8))
    assert 0.8 * 31 + 0.8 not in ends  # the end of the merged interval is gone
    # implausible intervals (a gap in the beats) are rejected too
    h = hrv(np.concatenate((times_from([0.8] * 30), times_from([0.8] * 30, start=24.0 + 5.0))), 0.0, 60.0)
    assert h.n_nn == 60 and h.artifact_fraction == pytest.approx(1 / 61)


def test_hrv_needs_enough_nn_over_the_window():
    assert hrv(times_from([0.8] * 8), 0.0, 60.0) is None  # fewer than 10 NN intervals
    assert hrv(times_from([0.8] * 30), 0.0, 60.0) is None  # 24 s of NN in a 60 s window
    assert hrv(times_from([0.8] * 40), 0.0, 60.0) is not None  # 32 s
    assert hrv(np.array([]), 0.0, 60.0) is None
    # only the beats inside the window count
    h = hrv(times_from([0.8] * 150), 30.0, 90.0)
    assert h.n_beats == 75 and h.n_nn == 74


def test_short_gaps_are_bridged_long_ones_kept():
    nan = math.nan
    x = np.array([nan, 1.0, nan, 3.0, nan, nan, nan, 7.0, nan, nan, nan, nan, 0.0, nan])
    y = bridge_short_gaps(x, 3)
    assert y[1:8].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]  # runs of 1 and 3 between samples: bridged
    assert np.isnan(y[8:12]).all()  # a run of 4: the leads were off, it stays missing
    assert np.isnan(y[0]) and np.isnan(y[13])  # nothing to bridge from at the ends
    assert np.isnan(x[2])  # the input is left as it was


def paused_ecg(pauses: list[tuple[float, int]], duration_s: float = 60.0, p_height: float = 0.25, seed: int = 9):
    """(ECG, conducted beat times, times of the blocked P waves): beat_times with the QRS and T of `n` consecutive
    beats from each (time, n) taken out and their P waves (160 ms before where the R would be) left, as in a sinus
    pause or AV block (eval_ecg.py --pauses does the same to real records)."""
    beats = beat_times(duration_s, seed=seed)
    blocked = np.zeros(len(beats), dtype=bool)
    for start, n in pauses:
        first = int(np.searchsorted(beats, start))
        blocked[first : first + n] = True
    x = synthetic_ecg(beats[~blocked], duration_s, noise=0.01)
    t = np.arange(len(x)) / FS
    for b in beats[blocked]:
        x += p_height * np.exp(-0.5 * ((t - b + 0.16) / 0.025) ** 2)
    return x, beats[~blocked], beats[blocked] - 0.16


@pytest.mark.parametrize("n_blocked", [2, 4, 6, 8])
def test_no_beats_on_the_p_waves_of_a_pause(n_blocked):
    # pauses of 1.6-7 s, three in a minute, whose blocked P waves are 2.5 times the normal P (a twentieth of the QRS's
    # energy in the QRS band): none of them is a beat, and every conducted beat is found. Before the provisional
    # beats, the signal level decayed freely in the pauses over 5 s and the detector locked onto the P waves.
    x, beats, p_waves = paused_ecg([(12.0, n_blocked), (27.0, n_blocked), (42.0, n_blocked)], p_height=0.3)
    peaks = detect_r_peaks(x, FS)
    t = peaks / FS
    assert not np.any(np.min(np.abs(t[:, None] - p_waves[None, :]), axis=1) < 0.1), t
    assert_matches(peaks, beats)


def test_a_pause_at_the_start_of_a_window_does_not_set_the_levels():
    # a pause of 8 beats (6.5 s) from 1 s: over the first 10 s alone the median block maximum was a P wave's, and
    # every P wave of the pause was counted; the live stage sees the ECG in such 60 s windows
    x, beats, p_waves = paused_ecg([(1.0, 8)], p_height=0.15)
    peaks = detect_r_peaks(x, FS)
    assert not np.any(np.min(np.abs(peaks[:, None] / FS - p_waves[None, :]), axis=1) < 0.1)
    assert_matches(peaks, beats)


OPEN_ECTOPIC_LOCK = pytest.mark.xfail(strict=True, reason="issue 18, open: the levels lock onto the ectopics")


@pytest.mark.parametrize("every", [pytest.param(2, marks=OPEN_ECTOPIC_LOCK), 3])
def test_ectopics_four_times_the_qrs_do_not_hide_the_normal_beats(every):
    # every second (bigeminy) or third beat a wide ventricular ectopic with four times the R's height (16 times its
    # integral). In the bigeminy most 1 s blocks hold an ectopic, so the initial signal level (their median maximum)
    # is an ectopic's, and the normal beats between (a sixteenth of it) never pass: 38 of 75 missed. A lower
    # quartile fixed this but, in 60 s windows, started sel231's 2:1 block on its P waves (eval_ecg.py --window-s 60).
    beats = beat_times(60.0, seed=11)
    x = synthetic_ecg(beats, 60.0, noise=0.01)
    t = np.arange(len(x)) / FS
    for b in beats[1::every]:
        x += 4.0 * np.exp(-0.5 * ((t - b) / 0.04) ** 2) - 1.2 * np.exp(-0.5 * ((t - b - 0.3) / 0.07) ** 2)
    assert_matches(detect_r_peaks(x, FS), beats, within_s=0.05)

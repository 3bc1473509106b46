"""ECG R-peaks and heart-rate variability in numpy/scipy alone (no NeuroKit2: it adds ~475 MiB on a Raspberry Pi).

The detector is a Pan–Tompkins (1985) one: a 5–15 Hz band-pass keeps the QRS and drops baseline wander, P and
T waves and mains/EMG noise; the squared derivative favours the QRS's steep slopes; a 150 ms moving-window
integral turns each QRS into one hump. Adaptive signal/noise levels set the threshold, a search-back at half the
threshold recovers a beat missed after 1.66 mean RR (the signal level halving once in such a gap, not again
until the gap passes 5 s, so a pause's P waves stay below it), a 200 ms refractory period and a slope check within
360 ms keep T waves out. A beat accepted only because the signal level fell is provisional: when a QRS at the level
of before the gap returns, the ones far smaller than it (the P waves of a pause) are dropped and the level
restored. The free numbers are RPeakParams, chosen by cross-validation over QT Database records in
tools/eval_ecg.py. Each detection is then moved to the R-peak extreme of the lightly filtered ECG, in the lead's
dominant QRS direction, so the beat times are precise enough for HRV.

HRV is computed only over normal-to-normal intervals: one missed or extra beat or an ectopic makes an RR interval
that is far from its neighbours, and a single one of those dominates RMSSD.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.ndimage import maximum_filter1d
from scipy.signal import butter, find_peaks, sosfiltfilt

MIN_RUN_S = 2.0  # a finite run shorter than this has too few beats to set the thresholds from
# (low Hz, high Hz, Butterworth order), applied forwards and backwards. The QRS band is first order as in NeuroKit2's
# pantompkins1985 cleaning: on the QT Database a second-order 5-15 Hz band let the T waves of a noisy lead with a
# small QRS (sel114 V5) over the threshold (25 false beats against 0), and missed more wide ventricular beats.
QRS_BAND = (5.0, 15.0, 1)
LIGHT_BAND = (0.5, 40.0, 2)  # for locating the R peak and for beat templates: no wander, no EMG, QRS shape kept
MWI_S = 0.15
REFRACTORY_S = 0.2
T_WAVE_S = 0.36
REFINE_S = 0.075
SEARCH_BACK_RR = 1.66
# The mean RR that sets the search-back gap is capped at 1.5 s (40 bpm): a detector that locked onto ectopic beats
# alone (their RR several seconds) still searches back, and its threshold decays onto the normal beats between them.
MAX_MEAN_RR_S = 1.5
# The first 60 s (the live stage's whole window) set the initial levels; 1 s blocks hold a beat each at >= 60 bpm
# and most of them down to 40 bpm. Over the first 10 s only, a pause of several seconds there made the median block
# maximum a P or T wave's, and the whole window then counted its P and T waves as beats (eval_ecg.py --window-s 60
# --pauses: 166 false beats, against 36 over 60 s).
LEARN_S, LEARN_BLOCK_S = 60.0, 1.0
# A signal peak raises the signal level by at most this factor of it: ectopic beats with 30 times the energy of the
# normal ones would otherwise lift the threshold over the normal beats that follow them.
SPKI_CLAMP = 2.0
# A gap without a beat longer than this is no longer taken for a pause (sinus pauses over 3 s are rare, over 5 s
# exceptional) but for a detector that has lost the beat, and the signal level decays freely again.
LOST_S = 5.0
SPKI_FLOOR = 4.0  # the signal level decays in a long gap, never below this factor of the noise level
# Beats accepted only because the signal level had decayed in a gap are provisional: when a hump that passes the
# threshold of before the gap comes back, those under this share of its integral were P waves or noise of the
# pause, and go, and the signal level of before the gap returns. Past PROVISIONAL_S after the last beat before the
# gap they stand (the QRS really shrank). On the QT Database and its --pauses copies (eval_ecg.py) the P waves so
# accepted had 0.01-0.23 of the next QRS's integral, the true beats (small QRS in noise, low ectopics) 0.11-0.8: a
# third lost 22 true beats on the records, a tenth none. The share was chosen looking at those records.
PROVISIONAL_SHARE = 0.1
PROVISIONAL_S = 10.0
NN_MIN_S, NN_MAX_S = 0.3, 2.0
NN_LOCAL_TOLERANCE = 0.2
NN_LOCAL_HALF = 2  # neighbours on each side in the local median (a window of 5 intervals)
BEAT_HALF_S = 0.1


@dataclass(frozen=True, slots=True)
class RPeakParams:
    """The decision rules' free numbers, in one place so that tools/eval_ecg.py can choose them by cross-validation
    over records (each record scored with the values chosen on the other records). The defaults are what 16 of the
    18 QT Database folds chose when the choice also counts the pause stress test (eval_ecg.py --pauses; the other two
    kept T-wave slope 0.5). Before beats accepted after a decay were provisional the folds chose threshold 0.35,
    which kept more of a pause's P waves out but missed more small QRS."""

    threshold: float = 0.25  # where the threshold sits between the noise and the signal level (Pan-Tompkins: 0.25)
    search_back_rr: float = SEARCH_BACK_RR  # a gap of this many mean RR triggers the search-back
    t_wave_slope: float = 0.6  # a hump within 360 ms of a QRS with under this share of its slope is a T wave
    spki_clamp: float = SPKI_CLAMP
    # Halvings of the signal level allowed in one gap (LOST_S lifts the limit). One: with eight, the blocked P waves
    # of a pause pass the threshold (eval_ecg.py --pauses: 1600 false beats, against 80), and sel231 (2:1 AV block)
    # counted 1700 of its own P waves as beats.
    max_decays: int = 1


DEFAULT_PARAMS = RPeakParams()


def _finite_runs(finite: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of each run of True."""
    edges = np.diff(np.concatenate(([0], finite.astype(np.int8), [0])))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))


@lru_cache(maxsize=16)
def _band(fs: float, low: float, high: float, order: int) -> np.ndarray | None:
    """Butterworth band-pass (as sos), its upper edge kept below Nyquist; None where fs is too low."""
    high = min(high, 0.45 * fs)
    low = min(low, 0.5 * high)
    if high <= 0.0 or low <= 0.0:
        return None
    return butter(order, [low, high], btype="bandpass", fs=fs, output="sos")


def _validate(ecg: np.ndarray, fs: float) -> np.ndarray:
    if not (np.isfinite(fs) and fs > 0):
        raise ValueError(f"sampling rate must be positive, got {fs}")
    x = np.asarray(ecg, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"ECG must be a 1-D array, got shape {x.shape}")
    return x


def _filtered(x: np.ndarray, fs: float, band: tuple[float, float, int]) -> np.ndarray | None:
    """x through the band forwards and backwards (no delay); None where fs is too low for the band or x is too short
    for the filter's edge padding (only at sampling rates far below any ECG's)."""
    sos = _band(float(fs), *band)
    if sos is None or len(x) <= 6 * (2 * len(sos) + 1):
        return None
    return sosfiltfilt(sos, x)


def _classify(mwi: np.ndarray, slope: np.ndarray, fs: float, params: RPeakParams) -> list[int]:
    """Pan–Tompkins decisions over the local maxima of the integrated signal: sample indices of the QRS humps."""
    refractory, t_wave = int(round(REFRACTORY_S * fs)), int(round(T_WAVE_S * fs))
    # Candidates at least a refractory period apart, the larger kept: a P wave or a ripple on the QRS's flank is
    # never chosen over the QRS hump next to it.
    found = find_peaks(mwi, distance=max(1, refractory))[0]
    if len(found) == 0:
        return []
    # Learning phase: the typical hump is the median of the 1 s block maxima over the first 60 s (a median, so that
    # neither artefacts nor frequent large ectopic beats set it); the noise level is the median of the integral.
    block = int(LEARN_BLOCK_S * fs)
    head = mwi[: max(block, int(LEARN_S * fs))]
    spki = float(np.median([head[i : i + block].max() for i in range(0, len(head) - block + 1, block)]))
    npki = float(np.median(head))
    # plain lists: the loop below reads single elements, which numpy arrays make several times slower
    at, values, slopes = found.tolist(), mwi[found].tolist(), slope[found].tolist()
    qrs: list[int] = []  # indices into `at` of the accepted humps
    rr: list[int] = []  # samples between accepted humps
    noise_since: list[int] = []  # humps since the last QRS that were not accepted: the search-back pool
    decays = 0  # halvings of the signal level since the last QRS
    max_rr = MAX_MEAN_RR_S * fs
    lost, provisional_for = LOST_S * fs, PROVISIONAL_S * fs
    # while beats are provisional: (signal level before the first halving, len(qrs) and len(rr) then)
    before_decay: tuple[float, int, int] | None = None

    def is_t_wave(i: int) -> bool:
        return bool(qrs) and at[i] - at[qrs[-1]] < t_wave and slopes[i] < params.t_wave_slope * slopes[qrs[-1]]

    def accept(i: int) -> None:
        nonlocal decays, before_decay, spki
        if before_decay is not None:
            spki_before, n_qrs, n_rr = before_decay
            if at[i] - (at[qrs[n_qrs - 1]] if n_qrs else 0) > provisional_for:
                before_decay = None  # the new level stands
            elif values[i] > npki + params.threshold * (spki_before - npki):
                # a beat at the level of before the gap: the small ones accepted since were the pause's P waves
                kept = [k for k in qrs[n_qrs:] if values[k] >= PROVISIONAL_SHARE * values[i]]
                del qrs[n_qrs:], rr[n_rr:]
                for k in kept:
                    if qrs:
                        rr.append(at[k] - at[qrs[-1]])
                    qrs.append(k)
                spki = max(spki, spki_before)
                before_decay = None
        if qrs:
            rr.append(at[i] - at[qrs[-1]])
        qrs.append(i)
        decays = 0

    def allowed_decays(until: int) -> int:
        """max_decays in a gap up to LOST_S; beyond it, one more per mean RR: a pause of a few seconds keeps its
        P waves out, a detector whose levels are far too high (a QRS that shrank, an artefact at the start) learns
        the beats again."""
        gap = until - (at[qrs[-1]] if qrs else 0)
        mean_rr = min(sum(rr[-8:]) / len(rr[-8:]), max_rr) if len(rr) >= 2 else max_rr
        return params.max_decays + (int((gap - lost) // mean_rr) + 1 if gap > lost else 0)

    def search_back(until: int) -> None:
        """While the gap since the last QRS exceeds 1.66 mean RR, accept the first hump in it over half the threshold
        (and at least half the size of the biggest one) that is not a T wave. With none, the signal level halves
        (allowed_decays): a QRS that shrank (a change of conduction or of the electrode) is found again, while the
        P and T waves of a real pause are 10-100 times smaller in energy."""
        nonlocal spki, decays, noise_since, before_decay
        while True:
            # before two RR intervals are known (a start on the wrong levels), the gap counts from the run's start
            mean_rr = min(sum(rr[-8:]) / len(rr[-8:]), max_rr) if len(rr) >= 2 else max_rr
            overdue = until - (at[qrs[-1]] if qrs else 0) - params.search_back_rr * mean_rr
            if overdue <= 0:
                return
            half_threshold = 0.5 * (npki + params.threshold * (spki - npki))
            pool = [i for i in noise_since if values[i] > half_threshold and not is_t_wave(i)]
            if pool:
                # the earliest of the big ones: with two missed beats in the gap, taking the later would lose the other
                top = max(values[i] for i in pool)
                best = next(i for i in pool if values[i] >= 0.5 * top)
                spki = 0.25 * min(values[best], params.spki_clamp * spki) + 0.75 * spki
                accept(best)
                noise_since = [i for i in noise_since if i > best]
            elif decays < allowed_decays(until) and spki > SPKI_FLOOR * npki:
                if before_decay is None:
                    before_decay = (spki, len(qrs), len(rr))
                spki = max(0.5 * spki, SPKI_FLOOR * npki)
                decays += 1
            else:
                return

    for i, (p, v) in enumerate(zip(at, values)):
        search_back(p)
        if v > npki + params.threshold * (spki - npki) and not is_t_wave(i):
            spki = 0.125 * min(v, params.spki_clamp * spki) + 0.875 * spki
            accept(i)
            noise_since = []
        else:
            npki = 0.125 * v + 0.875 * npki
            noise_since.append(i)
    search_back(len(mwi))
    return [at[i] for i in qrs]


def _refine(light: np.ndarray, humps: list[int], fs: float) -> np.ndarray:
    """Move each hump to the R-peak extreme of `light` within ±75 ms, in the lead's dominant QRS direction (the
    median over its beats, so an RS complex with R and S of similar size is timed at the same wave every beat); a
    beat whose other direction is more than twice as deep, such as an inverted ectopic, takes that one."""
    if not humps:
        return np.empty(0, dtype=np.int64)
    half, base_half = int(round(REFINE_S * fs)), int(round(0.2 * fs))
    pad = max(half, base_half)
    padded = np.pad(light, pad, mode="edge")
    centres = np.asarray(humps, dtype=np.int64)[:, None] + pad
    near = padded[centres + np.arange(-half, half + 1)]
    base = np.median(padded[centres + np.arange(-base_half, base_half + 1)], axis=1)
    up_at, down_at = near.argmax(axis=1), near.argmin(axis=1)
    rows = np.arange(len(humps))
    ups, downs = near[rows, up_at] - base, base - near[rows, down_at]
    if np.median(ups - downs) >= 0:
        offset = np.where(downs > 2 * ups, down_at, up_at)
    else:
        offset = np.where(ups > 2 * downs, up_at, down_at)
    # an extreme on the edge padding is the signal's first or last sample
    return np.clip(np.asarray(humps) + offset - half, 0, len(light) - 1).astype(np.int64)


def _template_correlations(light: np.ndarray, peaks: np.ndarray, fs: float) -> np.ndarray:
    """Correlation of each beat (±100 ms of `light` around its peak, mean removed) with the median beat; NaN for a
    beat cut by an edge or a NaN."""
    half = int(round(BEAT_HALF_S * fs))
    out = np.full(len(peaks), np.nan)
    idx = np.flatnonzero((peaks >= half) & (peaks + half < len(light)))
    beats = light[peaks[idx, None] + np.arange(-half, half + 1)[None, :]]
    whole = np.isfinite(beats).all(axis=1)
    idx, beats = idx[whole], beats[whole]
    if len(idx) < 2:
        return out
    beats = beats - beats.mean(axis=1, keepdims=True)
    template = np.median(beats, axis=0)
    norms = np.linalg.norm(beats, axis=1) * np.linalg.norm(template)
    out[idx] = np.divide(beats @ template, norms, out=np.zeros(len(idx)), where=norms > 0)
    return out


def _dedupe(peaks: np.ndarray, light: np.ndarray, fs: float) -> np.ndarray:
    """Sorted, and of two peaks closer than the refractory period only the one more like the median beat: the other
    is an artefact spike or step next to a beat (both passed the threshold as humps more than 200 ms apart)."""
    peaks = np.unique(peaks)
    refractory = REFRACTORY_S * fs
    if len(peaks) < 2 or np.diff(peaks).min() >= refractory:
        return peaks
    score = np.nan_to_num(_template_correlations(light, peaks, fs), nan=-2.0)
    keep: list[int] = [0]
    for k in range(1, len(peaks)):
        if peaks[k] - peaks[keep[-1]] < refractory:
            if score[k] > score[keep[-1]]:
                keep[-1] = k
        else:
            keep.append(k)
    return peaks[keep]


def _detect_run(x: np.ndarray, fs: float, params: RPeakParams) -> np.ndarray:
    if np.ptp(x) == 0:
        return np.empty(0, dtype=np.int64)
    bp = _filtered(x, fs, QRS_BAND)
    light = _filtered(x, fs, LIGHT_BAND)
    if bp is None or light is None:
        return np.empty(0, dtype=np.int64)
    d = np.gradient(bp)
    w = max(1, int(round(MWI_S * fs)))
    mwi = np.convolve(d * d, np.ones(w) / w, mode="same")
    if not np.max(mwi) > 0:
        return np.empty(0, dtype=np.int64)
    # steepest slope of the QRS-band signal within the integration window: the T-wave check compares these
    slope = maximum_filter1d(np.abs(d), size=w, mode="nearest")
    humps = _classify(mwi, slope, fs, params)
    return _dedupe(_refine(light, humps, fs), light, fs)


def detect_r_peaks(ecg: np.ndarray, fs: float, params: RPeakParams = DEFAULT_PARAMS) -> np.ndarray:
    """Sorted int64 sample indices of R peaks. NaN samples (leads off, missing data) split the signal: each finite
    run of at least 2 s is searched on its own, shorter runs give nothing. Never raises on finite/NaN/constant
    input; raises ValueError for fs <= 0 or a non-1-D array."""
    x = _validate(ecg, fs)
    found = [
        start + _detect_run(x[start:end], fs, params)
        for start, end in _finite_runs(np.isfinite(x))
        if end - start >= MIN_RUN_S * fs
    ]
    return np.concatenate(found).astype(np.int64) if found else np.empty(0, dtype=np.int64)


def bridge_short_gaps(x: np.ndarray, max_samples: int) -> np.ndarray:
    """NaN runs of at most max_samples between finite samples, linearly interpolated. detect_r_peaks splits the ECG
    at every NaN, so a garbled value or a one-line leads-off blip every fraction of a second would cut it into runs
    too short to search; longer runs (the leads really off) and runs at the ends stay NaN. The input is not changed."""
    x = np.asarray(x, dtype=np.float64)
    short = [(a, b) for a, b in _finite_runs(~np.isfinite(x)) if b - a <= max_samples and a > 0 and b < len(x)]
    if not short:
        return x
    out = x.copy()
    for a, b in short:
        out[a:b] = np.interp(np.arange(a, b), [a - 1, b], [x[a - 1], x[b]])
    return out


@dataclass(frozen=True, slots=True)
class Hrv:
    """Time-domain HRV of one window, over its normal-to-normal intervals only."""

    hr_bpm: float  # 60 / mean of the normal-to-normal (NN) intervals
    rmssd_ms: float | None  # None with fewer than 2 successive NN pairs
    sdnn_ms: float | None
    pnn50: float | None  # fraction in [0, 1] of successive NN differences > 50 ms
    hr_std_bpm: float | None  # spread of the beat-to-beat heart rate, 60 / NN (None with fewer than 2 NN)
    n_beats: int  # beats in the window
    n_nn: int  # intervals kept as normal-to-normal
    artifact_fraction: float  # share of intervals rejected (implausible, ectopic, across a gap)


def _nn_mask(beat_times_s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(interval end times, intervals, kept) over the sorted beat times."""
    t = np.sort(np.asarray(beat_times_s, dtype=np.float64).ravel())
    t = t[np.isfinite(t)]
    rr = np.diff(t)
    plausible = (rr >= NN_MIN_S) & (rr <= NN_MAX_S)
    if not plausible.any():
        return t[1:], rr, plausible
    # the median of the plausible intervals among it and its two neighbours on each side: with itself counted,
    # a pair of bad intervals (an extra beat, an ectopic and its pause) is outvoted by the three good ones
    padded = np.pad(np.where(plausible, rr, np.nan), NN_LOCAL_HALF, constant_values=np.nan)
    near = np.lib.stride_tricks.sliding_window_view(padded, 2 * NN_LOCAL_HALF + 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN neighbourhoods belong to implausible intervals
        ref = np.nanmedian(near, axis=1)
    keep = plausible & (np.abs(rr - ref) <= NN_LOCAL_TOLERANCE * ref)
    return t[1:], rr, keep


def nn_intervals(beat_times_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(interval end times, intervals in s) of the intervals kept as NN: 0.3–2.0 s and within 20 % of the local median
    (over it and two neighbours on each side), so a missed or extra beat and ectopics do not blow up RMSSD."""
    ends, rr, keep = _nn_mask(beat_times_s)
    return ends[keep], rr[keep]


def hrv(beat_times_s: np.ndarray, t_start: float, t_end: float) -> Hrv | None:
    """HRV over the beats in [t_start, t_end] (the pipeline uses 60 s windows); None with fewer than ~10 NN
    intervals or when NN covers less than half the window."""
    t = np.asarray(beat_times_s, dtype=np.float64).ravel()
    t = t[(t >= t_start) & (t <= t_end)]
    _, rr, keep = _nn_mask(t)
    nn = rr[keep]
    if len(nn) < 10 or nn.sum() < 0.5 * (t_end - t_start):
        return None
    pairs = keep[:-1] & keep[1:]  # successive intervals that are both NN (never across a rejected one)
    diffs = np.abs(np.diff(rr))[pairs]
    return Hrv(
        hr_bpm=60.0 / float(nn.mean()),
        rmssd_ms=float(np.sqrt(np.mean(diffs**2)) * 1000.0) if len(diffs) >= 2 else None,
        sdnn_ms=float(np.std(nn, ddof=1) * 1000.0) if len(nn) >= 2 else None,
        pnn50=float(np.mean(diffs > 0.05)) if len(diffs) >= 2 else None,
        hr_std_bpm=float(np.std(60.0 / nn, ddof=1)) if len(nn) >= 2 else None,
        n_beats=len(t),
        n_nn=len(nn),
        artifact_fraction=float(1.0 - len(nn) / len(rr)) if len(rr) else 1.0,
    )


def signal_quality(ecg: np.ndarray, fs: float, peaks: np.ndarray) -> float:
    """[0, 1]: 0 for no beats/flat/all-NaN; else the product of (a) the mean correlation, clipped at 0, of each
    beat (±100 ms around the R peak, lightly band-passed) with the median beat, (b) the share of RR intervals kept as
    NN and (c) the share of finite samples. A product, because any one failing makes the beats unusable for HRV."""
    x = _validate(ecg, fs)
    peaks = np.asarray(peaks, dtype=np.int64).ravel()
    finite = np.isfinite(x)
    if len(x) == 0 or len(peaks) < 2 or not finite.any():
        return 0.0
    coverage = float(finite.mean())
    light = np.full(len(x), np.nan)
    for start, end in _finite_runs(finite):
        run = _filtered(x[start:end], fs, LIGHT_BAND)
        if run is not None and np.ptp(x[start:end]) > 0:
            light[start:end] = run
    correlations = _template_correlations(light, peaks[(peaks >= 0) & (peaks < len(x))], fs)
    correlations = correlations[np.isfinite(correlations)]
    if len(correlations) < 2:
        return 0.0
    correlation = float(np.clip(correlations, 0.0, 1.0).mean())
    _, rr, keep = _nn_mask(peaks / fs)
    nn_share = float(keep.mean()) if len(rr) else 0.0
    return correlation * nn_share * coverage

"""The stress model's inputs: a window's heart and skin measures, relative to the driver's own baseline. Pure.

Training (tools/train_stress.py, drivedb) and the live stage (edge/physio/stage.py) both call `heart_measures`,
`skin_measures`, `Baseline` and `feature_vector`, so the model sees the same numbers in the car as in training.
Everything is relative to the driver: resting heart rate, HRV and skin conductance differ several-fold between
people (and GSR units between devices), while the change from the driver's own start-of-drive values is what
stress moves (docs/sensors.md, "What the pipeline makes of the signals").

The baseline is the median of each measure over the windows that end within BASELINE_S of a modality's first
usable window (the first minutes of a drive, usually calm); the model gives nothing until it is complete.
A modality that is missing in a window (leads off, no GSR board) enters as zeros with its flag at 0: the model is
trained with whole modalities dropped, so it works from either signal alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from edge.physio.ecg import hrv
from edge.physio.eda import EDA_RATE_HZ, Eda, eda_window, resample

BASELINE_S = 300.0
FEATURE_CLIP = 5.0
HEART_FEATURES = ("hr", "rmssd", "sdnn", "hr_std")
SKIN_FEATURES = ("scl", "scl_slope", "scr_rate", "scr_amplitude", "gsr_std")
FEATURE_NAMES: tuple[str, ...] = (*HEART_FEATURES, *SKIN_FEATURES, "has_ecg", "has_eda")


@dataclass(frozen=True, slots=True)
class Heart:
    hr_bpm: float
    rmssd_ms: float | None
    sdnn_ms: float | None
    pnn50: float | None
    hr_std_bpm: float | None  # spread of the beat-to-beat heart rate over the window


@dataclass(frozen=True, slots=True)
class Skin:
    eda: Eda
    std: float  # spread of the resampled conductance over the window


@dataclass(frozen=True, slots=True)
class WindowMeasures:
    t: float  # the window's end
    heart: Heart | None  # None: no usable ECG in the window
    skin: Skin | None  # None: no usable skin conductance


def heart_measures(beat_times_s: np.ndarray, t_start: float, t_end: float) -> Heart | None:
    """Heart rate and HRV from the beats in [t_start, t_end]; None with too few normal beats (ecg.hrv)."""
    h = hrv(beat_times_s, t_start, t_end)
    return None if h is None else Heart(h.hr_bpm, h.rmssd_ms, h.sdnn_ms, h.pnn50, h.hr_std_bpm)


def skin_measures(
    t: np.ndarray, values: np.ndarray, t_start: float, t_end: float, raw: np.ndarray | None = None,
    rails: tuple[float, float] | None = None,
) -> tuple[Skin | None, Eda]:
    """(the window's skin measures, or None when a check failed (flat, clipped, no contact, gaps); its EDA) from
    conductance samples `values` at times `t`, resampled onto EDA_RATE_HZ over [t_start, t_end). `raw` and `rails`:
    the readings as the sensor sent them and its ADC's range, for the clipping check (eda.eda_window)."""
    x = resample(t, values, t_start, t_end, EDA_RATE_HZ)
    eda = eda_window(x, EDA_RATE_HZ, raw=raw, rails=rails)
    if eda.flags or not math.isfinite(eda.scl):
        return None, eda
    return Skin(eda, float(np.nanstd(x))), eda


@dataclass
class Baseline:
    """The driver's resting values: medians over the windows that end within BASELINE_S of each modality's first
    usable window. Feed every window in time order; `ready` once both modalities that appeared are complete."""

    span_s: float = BASELINE_S
    _heart_start: float | None = None
    _skin_start: float | None = None
    _heart: list[Heart] = field(default_factory=list)
    _skin: list[Skin] = field(default_factory=list)
    heart: Heart | None = None  # medians, set when the heart baseline is complete
    skin: Skin | None = None

    def update(self, w: WindowMeasures) -> None:
        # A modality's baseline completes when the span has passed, whether or not this window has that signal
        # (leads that came off at the end of the span must not keep the baseline open).
        if self.heart is None and self._heart_start is not None and w.t - self._heart_start > self.span_s:
            self.heart = _median_heart(self._heart)
        if self.skin is None and self._skin_start is not None and w.t - self._skin_start > self.span_s:
            self.skin = _median_skin(self._skin)
        if w.heart is not None and self.heart is None:
            self._heart_start = w.t if self._heart_start is None else self._heart_start
            self._heart.append(w.heart)
        if w.skin is not None and self.skin is None:
            self._skin_start = w.t if self._skin_start is None else self._skin_start
            self._skin.append(w.skin)

    def remaining_s(self, t: float) -> float | None:
        """Seconds until the baseline of the modalities seen so far is complete; None before any usable window."""
        left = [
            max(0.0, start + self.span_s - t)
            for start, done in ((self._heart_start, self.heart), (self._skin_start, self.skin))
            if start is not None and done is None
        ]
        if not left and self._heart_start is None and self._skin_start is None:
            return None
        return max(left, default=0.0)


def feature_vector(w: WindowMeasures, base: Baseline) -> np.ndarray | None:
    """FEATURE_NAMES for one window, or None when no modality of the window has a complete baseline."""
    x = np.zeros(len(FEATURE_NAMES), dtype=np.float32)
    has_heart = w.heart is not None and base.heart is not None
    has_skin = w.skin is not None and base.skin is not None
    if not (has_heart or has_skin):
        return None
    if has_heart:
        h, b = w.heart, base.heart
        x[0] = h.hr_bpm / b.hr_bpm - 1.0
        x[1] = _log_ratio(h.rmssd_ms, b.rmssd_ms)
        x[2] = _log_ratio(h.sdnn_ms, b.sdnn_ms)
        x[3] = _log_ratio(h.hr_std_bpm, b.hr_std_bpm)
        x[9] = 1.0
    if has_skin:
        s, b = w.skin, base.skin
        level = b.eda.scl
        x[4] = _log_ratio(s.eda.scl, level)
        x[5] = s.eda.scl_slope / level
        x[6] = math.log((s.eda.scr_rate + 1.0) / (b.eda.scr_rate + 1.0))  # + 1: a calm baseline may have none
        x[7] = s.eda.scr_amplitude / level
        floor = 1e-3 * level  # a perfectly still baseline must not turn any movement into a huge ratio
        x[8] = math.log((s.std + floor) / (b.std + floor))
        x[10] = 1.0
    x[~np.isfinite(x)] = 0.0
    return np.clip(x, -FEATURE_CLIP, FEATURE_CLIP)


def _log_ratio(x: float | None, ref: float | None) -> float:
    if x is None or ref is None or x <= 0.0 or ref <= 0.0:
        return 0.0
    return math.log(x / ref)


def _median(values: list[float | None]) -> float | None:
    v = [x for x in values if x is not None and math.isfinite(x)]
    return float(np.median(v)) if v else None


def _median_heart(hs: list[Heart]) -> Heart:
    return Heart(
        hr_bpm=_median([h.hr_bpm for h in hs]) or 0.0,
        rmssd_ms=_median([h.rmssd_ms for h in hs]),
        sdnn_ms=_median([h.sdnn_ms for h in hs]),
        pnn50=_median([h.pnn50 for h in hs]),
        hr_std_bpm=_median([h.hr_std_bpm for h in hs]),
    )


def _median_skin(ss: list[Skin]) -> Skin:
    eda = Eda(
        scl=_median([s.eda.scl for s in ss]) or 0.0,
        scl_slope=_median([s.eda.scl_slope for s in ss]) or 0.0,
        scr_rate=_median([s.eda.scr_rate for s in ss]) or 0.0,
        scr_amplitude=_median([s.eda.scr_amplitude for s in ss]) or 0.0,
        coverage=1.0,
        flags=(),
    )
    return Skin(eda, _median([s.std for s in ss]) or 0.0)

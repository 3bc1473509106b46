"""Electrodermal activity (skin conductance) over a window: tonic level, phasic responses, and signal checks. Pure.

The stage resamples whatever rate the sensor sends onto a uniform EDA_RATE_HZ grid (`resample`), so every number
here means the same at 15 Hz (drivedb, the training data) and at 250 Hz (a CSV sensor line per ECG sample).
Units are the sensor's (µS after `grove_to_microsiemens`, device mV in drivedb): the stress features divide by the
driver's own baseline, so only thresholds relative to the level appear here.

- Tonic level (SCL): the window's median. Its slope: a least-squares line through the smoothed signal.
- Phasic responses (SCRs): peaks of the signal smoothed over 1 s whose rise from the preceding trough within
  SCR_MAX_RISE_S is at least SCR_MIN_RELATIVE of the level (0.5 %: 0.025 µS at 5 µS, in the usual 0.01–0.05 µS
  band). The rise is measured from the trough, so a response riding on a rising tonic level is not overstated.
- Checks: "flat" (a stuck reading or an open circuit), "clipped" (readings at the ADC's rails, when known),
  "no_contact" (a level at or below zero), "gaps" (less than MIN_COVERAGE of the window has samples).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage, signal

EDA_RATE_HZ = 4.0
MAX_GAP_S = 1.0  # resample: a longer stretch without samples stays NaN instead of being bridged
SMOOTH_S = 1.0  # a moving average this long: SCRs rise over 1-3 s, faster wiggles are electrode noise
SCR_MIN_RELATIVE = 0.005  # smallest response counted, relative to the level
SCR_MAX_RISE_S = 5.0  # a rise slower than this is tonic drift, not a response
FLAT_RELATIVE = 1e-4  # peak-to-peak below this share of the level: nothing is being measured
CLIPPED_SHARE = 0.05  # this share of raw readings at the ADC's rails: the signal is cut off
MIN_COVERAGE = 0.5
GROVE_FULL_SCALE = 1024  # a 10-bit ADC
GROVE_OPEN = 512  # the reading with nothing between the electrodes, as the Grove board's trimmer is set


@dataclass(frozen=True, slots=True)
class Eda:
    scl: float  # tonic level: median of the window, sensor units
    scl_slope: float  # tonic trend, sensor units per minute
    scr_rate: float  # phasic responses per minute
    scr_amplitude: float  # mean response amplitude, sensor units (0 without responses)
    coverage: float  # share of the window with samples
    flags: tuple[str, ...]  # any of "flat", "clipped", "no_contact", "gaps"

    @property
    def quality(self) -> float:
        """[0, 1]: the window's coverage, or 0 when a check failed."""
        return 0.0 if self.flags else self.coverage


def grove_to_microsiemens(
    reading: np.ndarray | float, full_scale: int = GROVE_FULL_SCALE, open_reading: float = GROVE_OPEN
) -> np.ndarray:
    """Skin conductance in µS from Seeed Grove GSR ADC readings.

    Seeed's formula gives the resistance R = (full_scale + 2·reading)·10 kΩ / (open_reading − reading), where
    open_reading is what the board reads with no skin between the electrodes (512 of 1024 as shipped, set with
    its trimmer). Conductance is 1/R; a reading at or above open_reading is no contact: 0 µS.
    """
    x = np.asarray(reading, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # absurd readings end as 0 µS, quietly
        siemens = (open_reading - x) / ((full_scale + 2.0 * x) * 1e4)
    return np.where(np.isfinite(siemens) & (siemens > 0.0), siemens * 1e6, 0.0)


def resample(t: np.ndarray, x: np.ndarray, t_start: float, t_end: float, rate: float = EDA_RATE_HZ) -> np.ndarray:
    """x(t) linearly interpolated onto the grid t_start, t_start + 1/rate, … < t_end; NaN where the nearest
    samples on either side are more than MAX_GAP_S apart, or outside the samples."""
    grid = t_start + np.arange(int(round((t_end - t_start) * rate))) / rate
    t = np.asarray(t, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    ok = np.isfinite(t) & np.isfinite(x)
    t, x = t[ok], x[ok]
    out = np.full(grid.shape, np.nan)
    if len(t) < 2:
        return out
    order = np.argsort(t, kind="stable")
    t, x = t[order], x[order]
    right = np.searchsorted(t, grid, side="left")
    inside = (right > 0) & (right < len(t))
    exact = (right < len(t)) & (t[np.minimum(right, len(t) - 1)] == grid)
    gap = np.zeros(grid.shape, dtype=bool)
    gap[inside] = t[right[inside]] - t[right[inside] - 1] > MAX_GAP_S
    usable = (inside & ~gap) | exact
    out[usable] = np.interp(grid[usable], t, x)
    return out


def eda_window(
    x: np.ndarray, rate: float = EDA_RATE_HZ, raw: np.ndarray | None = None, rails: tuple[float, float] | None = None
) -> Eda:
    """The window's EDA from a uniform series `x` (NaN where there were no samples). `raw`: the readings as
    received (before conversion and resampling), checked against the ADC's `rails` (lowest, highest reading) for
    clipping. Without rails nothing is called clipped: a calm signal from an ADC a few counts wide sits on its
    window's max and min most of the time, so only the rails themselves tell a cut-off signal."""
    x = np.asarray(x, dtype=np.float64)
    finite = np.isfinite(x)
    coverage = float(finite.mean()) if len(x) else 0.0
    flags: list[str] = []
    if coverage < MIN_COVERAGE or finite.sum() < 4:
        return Eda(float("nan"), 0.0, 0.0, 0.0, coverage, ("gaps",))
    level = float(np.median(x[finite]))
    spread = float(np.ptp(x[finite]))
    if level <= 0.0:
        flags.append("no_contact")
    elif spread <= FLAT_RELATIVE * abs(level):
        flags.append("flat")
    if rails is not None and raw is not None and _clipped(raw, rails):
        flags.append("clipped")
    smooth = _smooth(_fill(x), rate)
    minutes = np.arange(len(x)) / rate / 60.0
    slope = float(np.polyfit(minutes[finite], smooth[finite], 1)[0])
    amplitudes = scr_amplitudes(smooth, rate, SCR_MIN_RELATIVE * abs(level))
    duration_min = len(x) / rate / 60.0
    return Eda(
        scl=level,
        scl_slope=slope,
        scr_rate=len(amplitudes) / duration_min,
        scr_amplitude=float(np.mean(amplitudes)) if len(amplitudes) else 0.0,
        coverage=coverage,
        flags=tuple(flags),
    )


def scr_amplitudes(smooth: np.ndarray, rate: float, min_amplitude: float) -> np.ndarray:
    """Amplitudes of the phasic responses in a smoothed uniform series: each peak's rise from the lowest point
    in the SCR_MAX_RISE_S before it (and after the previous peak), kept when at least min_amplitude."""
    if len(smooth) < 3 or min_amplitude <= 0.0 or not np.isfinite(min_amplitude):
        return np.zeros(0)
    peaks, _ = signal.find_peaks(smooth)
    reach = max(1, int(round(SCR_MAX_RISE_S * rate)))
    out: list[float] = []
    previous = -1
    for p in peaks:
        start = max(previous + 1, p - reach)
        rise = smooth[p] - float(np.min(smooth[start : p + 1]))
        if rise >= min_amplitude:
            out.append(rise)
            previous = p
    return np.asarray(out)


def _clipped(raw: np.ndarray, rails: tuple[float, float]) -> bool:
    v = np.asarray(raw, dtype=np.float64)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return False
    return np.count_nonzero((v <= rails[0]) | (v >= rails[1])) >= CLIPPED_SHARE * len(v)


def _fill(x: np.ndarray) -> np.ndarray:
    """NaNs replaced by linear interpolation (ends held) so the filter can run; callers mask them again."""
    finite = np.isfinite(x)
    if finite.all():
        return x
    idx = np.arange(len(x))
    return np.interp(idx, idx[finite], x[finite])


def _smooth(x: np.ndarray, rate: float) -> np.ndarray:
    """A centred moving average over SMOOTH_S: unlike a sharper low-pass it never overshoots, so the fast onset of a
    response does not ring into a small false one before it."""
    size = int(round(rate * SMOOTH_S))
    return ndimage.uniform_filter1d(x, size, mode="nearest") if size > 1 else x

"""ECG and skin-conductance samples → PhysioEstimate: every physio.hop_s the last physio.window_s seconds are turned
into heart rate, HRV and skin-conductance measures, and, once the driver's baseline is known, into stress.

Live and replay run the same code: the daemon drains the serial source into `feed` on every loop, replay feeds a
drive's physio.csv in step with the video, and `poll(t)` makes an estimate once per hop of pipeline time. The
stage keeps only the samples of the last window (and a margin), so it costs the same at any point of a drive.

Per window: the ECG's rate is its samples' median spacing; a stretch without samples (lost lines, a stalled
sensor) is filled with NaN at that rate, so the R-peak detector splits there and the signal quality counts it as
missing, as it does leads-off samples. Beat times are the samples' own times. Skin conductance is converted per
physio.gsr_unit and resampled onto EDA_RATE_HZ. Both go through edge.physio.features, the same code as training.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from edge.config import Config, PhysioConfig
from edge.physio.ecg import bridge_short_gaps, detect_r_peaks, signal_quality
from edge.physio.eda import Eda, grove_to_microsiemens
from edge.physio.features import Baseline, Heart, Skin, WindowMeasures, feature_vector, heart_measures, skin_measures
from edge.physio.stress import MODEL_NAME, StressModel
from edge.sources.serial_lines import PhysioSample
from edge.stats import StageTimer
from edge.types import PhysioEstimate

log = logging.getLogger("edge.physio")

MARGIN_S = 5.0  # kept beyond the window: a poll that comes late still finds its whole window
GAP_PERIODS = 3.0  # samples further apart than this many periods have a gap between them
# ECG rates the detector can work with: below ~50 Hz a QRS is one or two samples; above, no sensor of ours sends.
MIN_ECG_HZ, MAX_ECG_HZ = 50.0, 5000.0
# No ADC count, mV or µS reaches this: a larger number is garbage that happened to parse (and would overflow the
# filters' squares and sums into warnings and infinities).
MAX_ABS_VALUE = 1e9


def _plausible(x: float) -> bool:
    return math.isfinite(x) and abs(x) <= MAX_ABS_VALUE


def _window(times: deque[float], values: deque[float], t0: float, t1: float) -> tuple[np.ndarray, np.ndarray]:
    """The samples with t0 <= t <= t1, as arrays."""
    t = np.fromiter(times, np.float64, len(times))
    x = np.fromiter(values, np.float64, len(values))
    lo, hi = np.searchsorted(t, t0, side="left"), np.searchsorted(t, t1, side="right")
    return t[lo:hi], x[lo:hi]


def on_grid(t: np.ndarray, x: np.ndarray, fs: float, t0: float, t1: float) -> tuple[np.ndarray, np.ndarray]:
    """(values, times) with NaN slots at rate fs wherever [t0, t1] has no samples: before the first, after the last,
    and in each gap longer than GAP_PERIODS periods. Every sample is kept, in order, with its own time."""
    missing = np.diff(t) * fs
    missing = np.where(missing > GAP_PERIODS, np.rint(missing) - 1, 0).astype(np.int64)
    before = np.concatenate(([int((t[0] - t0) * fs)], missing))
    at = np.cumsum(before + 1) - 1
    n = int(at[-1]) + 1 + int((t1 - t[-1]) * fs)
    values, times = np.full(n, np.nan), np.full(n, np.nan)
    values[at], times[at] = x, t
    return values, times


class PhysioStage:
    """Keeps the last window of ECG and skin-conductance samples and makes one PhysioEstimate per hop.

    `feed(samples)` takes samples in time order: one at or before the newest time already taken is dropped
    (counted in `dropped`), as are non-finite times; an ECG value that is not finite or beyond MAX_ABS_VALUE counts
    as a missing one (NaN; runs of up to GAP_PERIODS samples are bridged before the detector), such a GSR value is
    skipped. `poll(t)` returns a new estimate once per hop_s of pipeline time, else None, so the caller can call it
    as often as it likes. Nothing it is fed makes it raise.
    """

    def __init__(self, cfg: Config | PhysioConfig, model: StressModel | None, timer: StageTimer | None = None,
                 model_problem: str | None = None):
        """`model_problem`: why there is no stress model although one was wanted (for health)."""
        self.cfg = cfg.physio if isinstance(cfg, Config) else cfg
        self.model = model
        self.timer = timer or StageTimer()
        self.baseline = Baseline(span_s=self.cfg.baseline_s)
        self.dropped = 0
        self.model_problem = model_problem
        self._ecg_t: deque[float] = deque()
        self._ecg_x: deque[float] = deque()  # NaN while the leads are off
        self._gsr_t: deque[float] = deque()
        self._gsr_x: deque[float] = deque()  # as the sensor sent it; converted per window
        self._last_t = -math.inf
        self._next_t: float | None = None  # pipeline time of the next estimate

    def feed(self, samples: Iterable[PhysioSample]) -> None:
        for s in samples:
            t = s.t
            if not (isinstance(t, (int, float)) and math.isfinite(t)) or t <= self._last_t:
                self.dropped += 1
                continue
            self._last_t = t
            if s.leads_off or s.ecg is not None:
                ecg = math.nan if s.leads_off or s.ecg is None else float(s.ecg)
                self._ecg_t.append(t)
                self._ecg_x.append(ecg if _plausible(ecg) else math.nan)
            if s.gsr is not None and _plausible(s.gsr):
                self._gsr_t.append(t)
                self._gsr_x.append(float(s.gsr))
        oldest = self._last_t - self.cfg.window_s - MARGIN_S
        for times, values in ((self._ecg_t, self._ecg_x), (self._gsr_t, self._gsr_x)):
            while times and times[0] < oldest:
                times.popleft()
                values.popleft()

    def poll(self, t: float) -> PhysioEstimate | None:
        """The estimate of the window ending at t when a hop has passed since the last one (the first one hop
        after the first poll), else None. A caller that fell behind gets one estimate, not a burst."""
        if not math.isfinite(t):
            return None
        if self._next_t is None:
            self._next_t = t + self.cfg.hop_s
            return None
        if t < self._next_t:
            return None
        self._next_t += self.cfg.hop_s
        if self._next_t <= t:
            self._next_t = t + self.cfg.hop_s
        started = time.perf_counter()
        estimate = self.estimate(t)
        self.timer.record("physio", time.perf_counter() - started)
        return estimate

    def estimate(self, t: float) -> PhysioEstimate:
        """The window [t − window_s, t] now, whatever the hop; it also feeds the driver's baseline, so call it once
        per window end, in time order."""
        t0 = t - self.cfg.window_s
        ecg_t, ecg_x = _window(self._ecg_t, self._ecg_x, t0, t)
        gsr_t, gsr_x = _window(self._gsr_t, self._gsr_x, t0, t)
        if len(ecg_t) == 0 and len(gsr_t) == 0:
            return PhysioEstimate.unknown(t, "no_sensor")
        heart, ecg_quality = self._heart(ecg_t, ecg_x, t0, t)
        skin, eda = self._skin(gsr_t, gsr_x, t0, t)
        window = WindowMeasures(t, heart, skin)
        self.baseline.update(window)
        stress: dict[str, float] | None = None
        if heart is None and skin is None:
            reason: str | None = "no_signal"
        elif (features := feature_vector(window, self.baseline)) is None:
            reason = "baseline"
        elif self.model is None:
            reason = "no_model"
        else:
            stress, reason = self.model.predict(features), None
        return PhysioEstimate(
            t=t,
            hr_bpm=heart.hr_bpm if heart else None,
            rmssd_ms=heart.rmssd_ms if heart else None,
            sdnn_ms=heart.sdnn_ms if heart else None,
            pnn50=heart.pnn50 if heart else None,
            ecg_quality=ecg_quality,
            scl=skin.eda.scl if skin else None,
            scr_rate_per_min=skin.eda.scr_rate if skin else None,
            eda_quality=eda.quality if eda else 0.0,
            eda_flags=eda.flags if eda else (),
            stress=stress,
            baseline_remaining_s=self.baseline.remaining_s(t),
            reason=reason,
        )

    def _heart(self, t: np.ndarray, x: np.ndarray, t0: float, t1: float) -> tuple[Heart | None, float]:
        """(heart measures or None, ECG signal quality) of the window's ECG samples."""
        if len(t) < 2:
            return None, 0.0
        fs = 1.0 / float(np.median(np.diff(t)))
        if not MIN_ECG_HZ <= fs <= MAX_ECG_HZ:
            return None, 0.0
        values, times = on_grid(t, bridge_short_gaps(x, int(GAP_PERIODS)), fs, t0, t1)
        peaks = detect_r_peaks(values, fs)
        quality = signal_quality(values, fs, peaks)
        if quality < self.cfg.min_ecg_quality:
            return None, quality
        return heart_measures(times[peaks], t0, t1), quality

    def _skin(self, t: np.ndarray, raw: np.ndarray, t0: float, t1: float) -> tuple[Skin | None, Eda | None]:
        """(skin measures or None, the window's EDA checks or None without any GSR sample)."""
        if len(t) == 0:
            return None, None
        rails = (0.0, self.cfg.grove_full_scale - 1.0) if self.cfg.gsr_unit == "grove" else None
        return skin_measures(t, self._conductance(raw), t0, t1, raw=raw, rails=rails)

    def _conductance(self, raw: np.ndarray) -> np.ndarray:
        """The readings in the unit of physio.gsr_unit: µS from a Grove board, else as sent."""
        cfg = self.cfg
        if cfg.gsr_unit == "grove":
            return grove_to_microsiemens(raw, cfg.grove_full_scale, cfg.grove_open_reading)
        return raw

    @classmethod
    def from_config(cls, cfg: Config, models_dir: Path | None = None, timer: StageTimer | None = None) -> PhysioStage:
        """The stage with the stress model when it can be loaded (load_stress_model), else without it and
        `model_problem` saying why."""
        model, problem = load_stress_model(cfg, models_dir)
        return cls(cfg, model, timer, problem)


def load_stress_model(cfg: Config, models_dir: Path | None = None) -> tuple[StressModel | None, str | None]:
    """(the stress model of the manifest, None) when physio.stress_model is on and it loads; (None, None) when it is
    off; else (None, why), also logged. Without a model the stage reports heart and skin measures and says
    "no_model" where stress would be."""
    if not cfg.physio.stress_model:
        return None, None
    from edge.models import load_manifest

    rt = cfg.runtime
    models_dir = models_dir or rt.models_dir
    try:
        if MODEL_NAME not in load_manifest(models_dir):
            why = f"no {MODEL_NAME} model in {models_dir}'s manifest"
            log.info("%s: physiology runs without stress estimates", why)
            return None, why
        return StressModel.load(models_dir, rt.num_threads, rt.backend), None
    except (ImportError, OSError, RuntimeError, KeyError, ValueError) as err:
        log.warning("%s model not loaded, physiology runs without stress estimates: %s", MODEL_NAME, err)
        return None, f"{MODEL_NAME} model not loaded: {err}"

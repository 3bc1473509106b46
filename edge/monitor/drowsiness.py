"""Drowsiness: blinks, PERCLOS, microsleep and sleep, yawns, nods, and a KSS-aligned estimate. Pure policy.

`step(sample)` takes plain values with their time and returns the state and the episodes that happened in that
step; no clock, no I/O. Time in which the eyes cannot be seen counts for nothing: it is left out of PERCLOS and the
blink rate, and it ends an eye closure without counting it, so dark glasses never raise drowsiness.
The KSS rule and the sources of its thresholds are in docs/drowsiness.md and config (DrowsinessConfig).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Literal

from edge.config import DrowsinessConfig, EyesConfig
from edge.names import DrowsinessLevel

EpisodeKind = Literal["blink", "long_blink", "microsleep", "sleep", "closure_end", "yawn", "nod"]

_MAX_SAMPLE_GAP_S = 0.5  # a longer gap between samples counts as not observed
_PITCH_BASELINE_TAU_S = 10.0  # the driver's usual pitch follows posture over tens of seconds


@dataclass(frozen=True, slots=True)
class DrowsinessSample:
    t: float
    eyes_closed_prob: float | None  # both eyes; None when no eye is visible
    mar: float | None  # None without a face
    pitch: float | None  # degrees, > 0 looking up


@dataclass(frozen=True, slots=True)
class Episode:
    kind: EpisodeKind
    start: float
    end: float  # for microsleep/sleep: when the threshold was crossed; the closure goes on

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class DrowsinessState:
    t: float
    eyes_closed: bool
    closure_s: float  # how long both eyes have been closed now; 0 when open or not visible
    perclos: float | None  # share of visible time with eyes closed in the window; None until min_visible_s
    blink_rate_per_min: float | None
    kss: float | None  # 1-9; None until enough of the driver has been seen
    level: DrowsinessLevel
    blinks: int
    long_blinks: int
    microsleeps: int  # closures that reached microsleep_s (a sleep is counted here too: it was one first)
    sleeps: int
    yawns: int
    nods: int
    episodes: tuple[Episode, ...] = field(default=())  # what happened in this step


class _TimeShare:
    """Time-weighted share of a boolean over a sliding window, counting only observed time."""

    def __init__(self, window_s: float):
        self.window_s = window_s
        self._spans: deque[tuple[float, float, bool]] = deque()  # (end time, duration, value)
        self.observed = 0.0
        self.true = 0.0

    def add(self, end: float, duration: float, value: bool) -> None:
        self._spans.append((end, duration, value))
        self.observed += duration
        self.true += duration if value else 0.0
        while self._spans and self._spans[0][0] <= end - self.window_s:
            _, d, v = self._spans.popleft()
            self.observed -= d
            self.true -= d if v else 0.0

    def share(self) -> float:
        return max(0.0, self.true) / self.observed if self.observed > 1e-9 else 0.0


class DrowsinessMonitor:
    def __init__(self, cfg: DrowsinessConfig, eyes: EyesConfig):
        self.cfg = cfg
        self.closed_threshold = eyes.closed_threshold
        self.open_threshold = eyes.open_threshold
        self._prev: DrowsinessSample | None = None
        self._prev_closed: bool | None = None  # eye state over the span that ends at the next sample
        self._closure_start: float | None = None
        self._reached_microsleep = False
        self._reached_sleep = False
        self._eyes = _TimeShare(cfg.window_s)
        self._blink_times: deque[float] = deque()
        self._history: deque[Episode] = deque()  # long blinks, microsleeps, yawns, nods within history_s
        self._yawn_start: float | None = None
        self._yawn_counted = False
        self._yawn_wide = False  # the open mouth has reached yawn_mar
        self._pitch_baseline: float | None = None
        self._nod_start: float | None = None
        self.counts = dict(blinks=0, long_blinks=0, microsleeps=0, sleeps=0, yawns=0, nods=0)

    def step(self, s: DrowsinessSample) -> DrowsinessState:
        episodes: list[Episode] = []
        prev = self._prev
        if prev is not None and self._prev_closed is not None:
            gap = s.t - prev.t
            if 0.0 < gap <= _MAX_SAMPLE_GAP_S:
                self._eyes.add(s.t, gap, self._prev_closed)
        self._eye_closure(s, episodes)
        self._yawn(s, episodes)
        self._nod(s, episodes)
        self._prev = s

        for e in episodes:
            if e.kind in ("long_blink", "microsleep", "yawn", "nod"):
                self._history.append(e)
        while self._history and self._history[0].end < s.t - self.cfg.history_s:
            self._history.popleft()
        while self._blink_times and self._blink_times[0] < s.t - self.cfg.window_s:
            self._blink_times.popleft()

        enough = self._eyes.observed >= self.cfg.min_visible_s
        perclos = self._eyes.share() if enough else None
        blink_rate = len(self._blink_times) / self._eyes.observed * 60.0 if enough else None
        kss = self._kss(perclos, s.t)
        closure = s.t - self._closure_start if self._closure_start is not None else 0.0
        return DrowsinessState(
            t=s.t,
            eyes_closed=self._closure_start is not None,
            closure_s=closure,
            perclos=perclos,
            blink_rate_per_min=blink_rate,
            kss=kss,
            level=self._level(kss),
            episodes=tuple(episodes),
            **self.counts,
        )

    # -- eyes -------------------------------------------------------------------------------------------------

    def _eye_closure(self, s: DrowsinessSample, episodes: list[Episode]) -> None:
        p = s.eyes_closed_prob
        if p is None:  # not visible: whatever was going on cannot be judged
            self._closure_start = None
            self._prev_closed = None
            return
        if self._closure_start is None:
            if p >= self.closed_threshold:
                self._closure_start = s.t
                self._reached_microsleep = self._reached_sleep = False
        elif p <= self.open_threshold:
            self._end_closure(s.t, episodes)
        if self._closure_start is not None:
            closed_for = s.t - self._closure_start
            if not self._reached_microsleep and closed_for >= self.cfg.microsleep_s - 1e-9:
                self._reached_microsleep = True
                self.counts["microsleeps"] += 1
                episodes.append(Episode("microsleep", self._closure_start, s.t))
            if not self._reached_sleep and closed_for >= self.cfg.sleep_s - 1e-9:
                self._reached_sleep = True
                self.counts["sleeps"] += 1
                episodes.append(Episode("sleep", self._closure_start, s.t))
        self._prev_closed = self._closure_start is not None

    def _end_closure(self, t: float, episodes: list[Episode]) -> None:
        start = self._closure_start
        assert start is not None
        self._closure_start = None
        duration = t - start
        if self._reached_microsleep:
            episodes.append(Episode("closure_end", start, t))
        elif duration >= self.cfg.long_blink_s - 1e-9:
            self.counts["long_blinks"] += 1
            self._blink_times.append(t)
            episodes.append(Episode("long_blink", start, t))
        elif duration >= self.cfg.min_blink_s - 1e-9:
            self.counts["blinks"] += 1
            self._blink_times.append(t)
            episodes.append(Episode("blink", start, t))

    # -- mouth and head ---------------------------------------------------------------------------------------

    def _yawn(self, s: DrowsinessSample, episodes: list[Episode]) -> None:
        """A yawn: the mouth open (MAR >= yawn_end_mar) for yawn_min_s, wide (>= yawn_mar) at some point. Timed
        from when it opened, not from when it was widest: seen in near profile, a yawn is wide only at its peak."""
        mar = s.mar
        if mar is None or mar < self.cfg.yawn_end_mar:
            self._yawn_start, self._yawn_wide = None, False
            return
        if self._yawn_start is None:
            self._yawn_start, self._yawn_counted = s.t, False
        self._yawn_wide = self._yawn_wide or mar >= self.cfg.yawn_mar
        if self._yawn_wide and not self._yawn_counted and s.t - self._yawn_start >= self.cfg.yawn_min_s - 1e-9:
            self._yawn_counted = True
            self.counts["yawns"] += 1
            episodes.append(Episode("yawn", self._yawn_start, s.t))

    def _nod(self, s: DrowsinessSample, episodes: list[Episode]) -> None:
        if s.pitch is None:
            self._nod_start = None
            return
        if self._pitch_baseline is None:
            self._pitch_baseline = s.pitch
            return
        drop = self._pitch_baseline - s.pitch
        if self._nod_start is None:
            if drop >= self.cfg.nod_drop_deg:
                self._nod_start = s.t
            else:  # learn the usual pitch only while the head is not dropping
                dt = s.t - self._prev.t if self._prev is not None else 0.0
                alpha = min(1.0, max(0.0, dt) / _PITCH_BASELINE_TAU_S)
                self._pitch_baseline += alpha * (s.pitch - self._pitch_baseline)
        elif drop <= self.cfg.nod_drop_deg / 2:  # back up
            if s.t - self._nod_start <= self.cfg.nod_max_s:
                self.counts["nods"] += 1
                episodes.append(Episode("nod", self._nod_start, s.t))
            self._nod_start = None

    # -- estimate ---------------------------------------------------------------------------------------------

    def _kss(self, perclos: float | None, t: float) -> float | None:
        if perclos is None:
            return None
        c = self.cfg
        kss = 3.0 + perclos / c.perclos_kss7 * 4.0
        kinds = [e.kind for e in self._history]
        long_blinks_per_min = sum(1 for e in self._history if e.kind == "long_blink" and e.end >= t - c.window_s)
        long_blinks_per_min *= 60.0 / c.window_s
        if long_blinks_per_min >= c.long_blinks_per_min:
            kss += 1.0
        if kinds.count("yawn") >= c.yawns_for_step:
            kss += 1.0
        if "nod" in kinds:
            kss += 1.0
        if "microsleep" in kinds:
            kss = max(kss, c.kss_very_drowsy)
        return round(min(9.0, max(1.0, kss)), 1)

    def _level(self, kss: float | None) -> DrowsinessLevel:
        if kss is None:
            return "unknown"
        if kss >= self.cfg.kss_very_drowsy:
            return "very_drowsy"
        if kss >= self.cfg.kss_drowsy:
            return "drowsy"
        if kss >= self.cfg.kss_drowsy - 1.0:
            return "slightly_drowsy"
        return "alert"

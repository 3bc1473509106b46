"""From the monitors' states to the alert conditions of docs/alerts.md, with the evidence behind each. Pure.

`ConditionTracker.step(inputs)` returns one `Condition` per alert kind. It keeps only the start times of the
conditions that must last a while (driver not visible, eyes not visible, stress high) and whether the driver came
back after a warning. A camera that is down is a monitoring fault, never an absent or distracted driver: while
`camera_ok` is false every driver condition is clear and monitoring_degraded says {"reason": "camera"}.
"""

from __future__ import annotations

from dataclasses import dataclass

from edge.config import Config
from edge.monitor.alerts import CLEAR, Condition, EvidenceValue
from edge.monitor.distraction import DistractionState
from edge.monitor.drowsiness import DrowsinessState
from edge.monitor.fusion import FusionState
from edge.names import ALERT_KINDS, ALERT_LEVELS, AlertLevel

# Alerts after whose warning the driver must return to the road within unresponsive_after_warning_s (Euro NCAP
# 2023 DSM, unresponsive driver). Microsleep and sleep are left out: a closure has its own path to unresponsive.
UNRESPONSIVE_WATCH: tuple[str, ...] = ("drowsiness", "long_distraction", "visual_time_sharing")

_EPS = 1e-9  # time boundaries are inclusive despite float sums of frame intervals


@dataclass(frozen=True, slots=True)
class ConditionInputs:
    t: float
    camera_ok: bool  # False: no frames (the camera thread reports it unavailable)
    face_present: bool
    face_quality: float
    eyes_visible: bool
    drowsiness: DrowsinessState | None
    distraction: DistractionState | None
    fusion: FusionState | None
    # AlertManager.warning_since(UNRESPONSIVE_WATCH) after the previous step: since when a warning-level
    # drowsiness or distraction alert has been up (None: none is)
    warning_since: float | None = None
    sensor_faults: tuple[str, ...] = ()  # other failed sources ("audio", "serial"): monitoring degraded


class _Since:
    """When a boolean last became true; the duration is measured sample time to sample time."""

    def __init__(self) -> None:
        self.start: float | None = None

    def step(self, t: float, value: bool) -> float | None:
        if not value:
            self.start = None
            return None
        if self.start is None:
            self.start = t
        return t - self.start


def _at_least(duration: float | None, limit: float) -> bool:
    return duration is not None and duration >= limit - _EPS


def min_usable_quality(cfg: Config) -> float:
    """A face is usable when at least one judging stage (eyes, head pose) accepts its quality."""
    return min(cfg.eyes.min_face_quality, cfg.distraction.min_face_quality)


class ConditionTracker:
    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.min_usable_quality = min_usable_quality(cfg)
        self._not_visible = _Since()
        self._eyes_hidden = _Since()
        self._stress_high = _Since()
        self._watched_warning: float | None = None  # the warning whose response is being watched
        self._returned = False

    def step(self, x: ConditionInputs) -> dict[str, Condition]:
        conds = dict.fromkeys(ALERT_KINDS, CLEAR)
        conds["monitoring_degraded"] = self._degraded(x)
        conds["stress"] = self._stress(x)
        if not x.camera_ok:  # nothing about the driver can be known; forget what was being measured
            self._not_visible.step(x.t, False)
            self._eyes_hidden.step(x.t, False)
            self._watched_warning, self._returned = None, False
            return conds
        conds["driver_not_visible"] = self._driver_not_visible(x)
        if x.drowsiness is not None:
            conds.update(self._closure(x.drowsiness))
            conds["drowsiness"] = self._drowsiness(x.drowsiness)
        if x.distraction is not None:
            conds.update(self._distraction(x.distraction))
        conds["unresponsive"] = self._unresponsive(x)
        return conds

    # -- visibility and health ----------------------------------------------------------------------------------

    def _driver_not_visible(self, x: ConditionInputs) -> Condition:
        usable = x.face_present and x.face_quality >= self.min_usable_quality
        gone_s = self._not_visible.step(x.t, not usable)
        if not _at_least(gone_s, self.cfg.alerts.driver_not_visible_s):
            return CLEAR
        return Condition(True, {"not_visible_s": gone_s, "face_present": x.face_present, "quality": x.face_quality})

    def _degraded(self, x: ConditionInputs) -> Condition:
        faults = ("camera",) if not x.camera_ok else ()
        faults += tuple(f for f in x.sensor_faults if f != "camera")
        usable = x.camera_ok and x.face_present and x.face_quality >= self.min_usable_quality
        hidden_s = self._eyes_hidden.step(x.t, usable and not x.eyes_visible)
        if faults:
            return Condition(True, {"reason": ",".join(faults)})
        if _at_least(hidden_s, self.cfg.alerts.monitoring_degraded_s):
            return Condition(True, {"reason": "eyes_not_visible", "eyes_not_visible_s": hidden_s})
        return CLEAR

    # -- drowsiness ---------------------------------------------------------------------------------------------

    def _closure(self, d: DrowsinessState) -> dict[str, Condition]:
        c = self.cfg.drowsiness
        closed = d.closure_s if d.eyes_closed else 0.0
        evidence: dict[str, EvidenceValue] = {"closure_s": closed}
        if closed >= c.sleep_s - _EPS:  # Euro NCAP 2023 DSM: sleep, eyes closed >= 3 s
            return {"sleep": Condition(True, evidence)}
        if closed >= c.microsleep_s - _EPS:  # microsleep, >= 1 s and < 3 s
            return {"microsleep": Condition(True, evidence)}
        return {}

    def _drowsiness(self, d: DrowsinessState) -> Condition:
        if d.level not in ("drowsy", "very_drowsy"):
            return CLEAR
        level: AlertLevel | None = None
        if d.level == "very_drowsy":  # KSS >= kss_very_drowsy: DDAW warns (EU 2021/1341)
            first = self.cfg.alerts.levels.drowsiness
            level = first if ALERT_LEVELS.index(first) >= 1 else "warning"
        evidence: dict[str, EvidenceValue] = {
            "kss": d.kss,
            "drowsiness_level": d.level,
            "perclos": d.perclos,
            "blink_rate_per_min": d.blink_rate_per_min,
            "long_blinks": d.long_blinks,
            "microsleeps": d.microsleeps,
            "yawns": d.yawns,
            "nods": d.nods,
        }
        return Condition(True, evidence, level)

    # -- distraction --------------------------------------------------------------------------------------------

    def _distraction(self, s: DistractionState) -> dict[str, Condition]:
        conds: dict[str, Condition] = {}
        pose: dict[str, EvidenceValue] = {
            "yaw": s.yaw_offset,
            "pitch": s.pitch_offset,
            "road_yaw": s.calibration.yaw,
            "road_pitch": s.calibration.pitch,
            "calibration": s.calibration.status,
        }
        if s.long_distraction:
            conds["long_distraction"] = Condition(True, {"off_road_s": s.off_road_s, **pose})
        if s.visual_time_sharing:
            evidence = {"vats_off_road_s": s.vats_off_road_s, "window_s": self.cfg.distraction.vats_window_s}
            conds["visual_time_sharing"] = Condition(True, {**evidence, "off_road_s": s.off_road_s, **pose})
        return conds

    def _unresponsive(self, x: ConditionInputs) -> Condition:
        """Euro NCAP's unresponsive driver: eyes closed for unresponsive_s, or no return to the road within
        unresponsive_after_warning_s of a warning. A head angle alone never is: off road for 3 s is a long
        distraction warning, and the driver who then does not look back within 3 s is unresponsive; the warning
        exists only once the road-ahead pose is known (the mount's or a calibrated one)."""
        a = self.cfg.alerts
        d, s = x.drowsiness, x.distraction
        closed_s = d.closure_s if d is not None and d.eyes_closed else 0.0
        off_s = s.off_road_s if s is not None and s.on_road is False else 0.0
        # No return after a warning: the driver must be seen on the road with eyes not closed since it was raised.
        if x.warning_since != self._watched_warning:
            self._watched_warning, self._returned = x.warning_since, False
        attentive = s is not None and s.on_road is True and not (d is not None and d.eyes_closed)
        if x.warning_since is not None and attentive and x.t >= x.warning_since:
            self._returned = True
        since_warning = x.t - x.warning_since if x.warning_since is not None else None
        evidence: dict[str, EvidenceValue] = {"closure_s": closed_s, "off_road_s": off_s}
        if closed_s >= a.unresponsive_s - _EPS:  # Euro NCAP 2023 DSM: unresponsive driver, >= 6 s
            return Condition(True, {"reason": "eyes_closed", **evidence})
        seen = s is not None and s.on_road is not None  # never unresponsive for want of seeing the driver
        if seen and not self._returned and _at_least(since_warning, a.unresponsive_after_warning_s):
            return Condition(True, {"reason": "no_return_after_warning", "since_warning_s": since_warning, **evidence})
        return CLEAR

    # -- stress -------------------------------------------------------------------------------------------------

    def _stress(self, x: ConditionInputs) -> Condition:
        f = x.fusion
        a = self.cfg.alerts
        high = f is not None and f.stress is not None and f.stress >= a.stress_threshold
        high_s = self._stress_high.step(x.t, high)
        if not _at_least(high_s, a.stress_s) or f is None:
            return CLEAR
        return Condition(True, {"stress": f.stress, "high_for_s": high_s, "sources": ",".join(f.stress_sources)})

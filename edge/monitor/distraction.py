"""Distraction: eyes off the road from the head pose, long distraction and visual time sharing. Pure policy.

`step(sample)` takes plain values with their time and returns the state; no clock, no I/O.

The head pose arrives in the vehicle frame (edge/monitor/pose_calibration.py turned it by the camera mount), and
off road is judged against the driver's road-ahead pose: the mount's, refined online by PoseCalibration. Without
a mount nothing is judged until that calibration has found the road-ahead pose: an angle measured against an
unknown reference is no evidence of distraction.

Time is weighted like drowsiness.py: each judged sample's verdict holds until the next sample, for at most
`_MAX_SAMPLE_GAP_S`; a longer gap counts for nothing. A sample that cannot be judged (no pose, poor face, not
calibrated) counts neither as off road nor as on road and interrupts neither count: a camera fault must never read
as distraction, nor wipe out a distraction that was already measured.

Gaze: the iris model is not wired yet, so the head pose stands for where the driver looks. When it is, the sample's
optional `gaze_yaw` / `gaze_pitch` (the eyes' offset from the head direction, degrees, same signs as the pose) are
added to the head pose, so a glance with the eyes alone is caught too; nothing else changes.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from edge.config import DistractionConfig
from edge.monitor.pose_calibration import CONFIDENT_LANDMARKS, Calibration, PoseCalibration
from edge.types import HeadPose

_MAX_SAMPLE_GAP_S = 0.5  # a longer gap between samples counts as not observed
_EPS = 1e-9  # boundaries are inclusive despite float sums of frame intervals


@dataclass(frozen=True, slots=True)
class DistractionSample:
    t: float
    yaw: float | None  # head pose in the vehicle frame, degrees; > 0 the driver turns to their left. None: no pose
    pitch: float | None  # degrees; > 0 looks up
    quality: float  # the observation's face quality in [0, 1]
    may_learn_pose: bool = True  # the vehicle moves (or its speed is unknown): the road-ahead pose may be learned
    gaze_yaw: float | None = None  # eye-in-head offset from the iris model, degrees; None until it is wired
    gaze_pitch: float | None = None


@dataclass(frozen=True, slots=True)
class DistractionState:
    t: float
    on_road: bool | None  # None: not judged in this sample (no pose, poor face)
    off_road_s: float  # current continuous off-road time; 0 once the driver is judged on road
    on_road_s: float  # current continuous on-road time; 0 once judged off road
    vats_off_road_s: float  # cumulative off-road time within the last vats_window_s (since the last reset)
    long_distraction: bool  # judged off road now, continuously for >= long_distraction_s
    visual_time_sharing: bool  # judged now, and vats_off_road_s >= vats_total_s
    calibration: Calibration  # the road-ahead pose this sample was judged against, and how it was found
    yaw_offset: float | None = None  # looking direction minus the road-ahead pose; None when not judged
    pitch_offset: float | None = None


class DistractionMonitor:
    def __init__(self, cfg: DistractionConfig, has_mount: bool = False):
        self.cfg = cfg
        self.calibration = PoseCalibration(
            has_mount, cfg.calibration_samples, cfg.calibration_min_share, cfg.calibration_max_offset_yaw_deg,
            cfg.calibration_max_offset_pitch_deg,
        )
        self._prev_t: float | None = None
        self._prev_on_road: bool | None = None  # the verdict over the span that ends at the next sample
        self._run_on_road: bool | None = None  # the current run; survives samples that are not judged
        self._run_s = 0.0
        self._vats: deque[tuple[float, float]] = deque()  # (end time, duration) of off-road spans
        self._vats_total = 0.0

    def reset_neutral(self) -> None:
        """A new driver (or `cmd/calibrate`): learn the road-ahead pose again, and forget the off-road time that
        was measured against the old one."""
        self.calibration.reset()
        self._prev_t, self._prev_on_road, self._run_on_road, self._run_s = None, None, None, 0.0
        self._vats.clear()
        self._vats_total = 0.0

    def step(self, s: DistractionSample) -> DistractionState:
        cfg = self.cfg
        if self._prev_t is not None and self._prev_on_road is not None:
            gap = s.t - self._prev_t
            if 0.0 < gap <= _MAX_SAMPLE_GAP_S:
                self._count(s.t, gap, self._prev_on_road)

        calibration = self.calibration.state  # this sample is judged against it
        offsets = self._offsets(s, calibration)
        on_road: bool | None = None
        if offsets is not None:
            dyaw, dpitch = offsets
            on_road = not (
                abs(dyaw) > cfg.yaw_off_road_deg
                or -dpitch > cfg.pitch_down_off_road_deg
                or dpitch > cfg.pitch_up_off_road_deg
            )
            if on_road != self._run_on_road:  # a new run starts at this sample
                self._run_on_road, self._run_s = on_road, 0.0
        if s.yaw is not None and s.pitch is not None:
            self.calibration.learn(HeadPose(s.yaw, s.pitch, 0.0), s.quality >= CONFIDENT_LANDMARKS, s.may_learn_pose)
        self._prev_t, self._prev_on_road = s.t, on_road

        off_s = self._run_s if self._run_on_road is False else 0.0
        on_s = self._run_s if self._run_on_road is True else 0.0
        if on_s >= cfg.vats_reset_on_road_s - _EPS:  # Euro NCAP: VATS resets after >= 2 s back on road
            self._vats.clear()
            self._vats_total = 0.0
        self._expire_vats(s.t)
        return DistractionState(
            t=s.t,
            on_road=on_road,
            off_road_s=off_s,
            on_road_s=on_s,
            vats_off_road_s=self._vats_total,
            long_distraction=on_road is False and off_s >= cfg.long_distraction_s - _EPS,
            visual_time_sharing=on_road is not None and self._vats_total >= cfg.vats_total_s - _EPS,
            calibration=calibration,
            yaw_offset=offsets[0] if offsets is not None else None,
            pitch_offset=offsets[1] if offsets is not None else None,
        )

    # -- time ---------------------------------------------------------------------------------------------------

    def _count(self, end: float, duration: float, on_road: bool) -> None:
        if on_road == self._run_on_road:
            self._run_s += duration
        if not on_road:
            self._vats.append((end, duration))
            self._vats_total += duration

    def _expire_vats(self, t: float) -> None:
        while self._vats and self._vats[0][0] <= t - self.cfg.vats_window_s:
            _, d = self._vats.popleft()
            self._vats_total -= d
        if not self._vats:
            self._vats_total = 0.0  # no float residue from the subtractions

    # -- pose ---------------------------------------------------------------------------------------------------

    def _offsets(self, s: DistractionSample, calibration: Calibration) -> tuple[float, float] | None:
        if s.yaw is None or s.pitch is None or s.quality < self.cfg.min_face_quality or not calibration.usable:
            return None
        yaw = s.yaw + (s.gaze_yaw or 0.0)
        pitch = s.pitch + (s.gaze_pitch or 0.0)
        return yaw - calibration.yaw, pitch - calibration.pitch

"""The driver's road-ahead head pose: the camera mount, then online calibration. Pure policy, no clock, no I/O.

Head pose comes from the camera; judgements need it in the vehicle's frame. The mount (`[camera.mount]`) says
which head pose the camera sees when the driver looks at the road; `to_vehicle` turns a camera pose into the
vehicle frame by that rotation (composed, not subtracted: a mirror camera is 40° off and the angles interact).

On top of the mount the driver's own road-ahead pose is learned online, as openpilot learns its pose offsets:
- only from confident frames while the vehicle moves (drivers watch the road when driving; parked, they look
  anywhere). Without a speed source the vehicle counts as moving, as it does for the alert gating;
- as the mode of the recent poses, not their mean or median: the densest box of yaw x pitch among the samples,
  holding at least `min_share` of them, and the densest box of the older half and of the newer half of the samples
  too: a drive that starts with a long look at the phone has its older half elsewhere and is not learned until
  the road holds both halves;
- bounded around the mount (`max_offset_*`): a sample further off is never a road-ahead pose, so it is not learned,
  unless most samples are: then the mount is wrong, it is no longer judged against, and the pose is learned as if
  there were none (`mount_rejected` in the state).
Without a mount, nothing bounds it and nothing is judged until it is calibrated: a head angle measured against an
unknown reference raises no alert (docs/calibration.md says what is detected meanwhile).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Literal

import numpy as np

from edge.rotation import pose_to_rotation, rotation_to_pose
from edge.types import HeadPose

CalibrationStatus = Literal["mount", "calibrating", "calibrated"]

CONFIDENT_LANDMARKS = 0.6  # FaceMesh landmark score of a frame confident enough to teach the road-ahead pose

_MODE_HALF_YAW = 12.5  # deg: the mode box, half the default off-road angles: a driver watching the road moves the
_MODE_HALF_PITCH = 10.0  # head within it while talking, and mirror checks and the speedometer fall outside
_WINDOW = 1800  # samples (~60 s at 30 fps): the calibration follows slow posture changes
_REFRESH = 15  # accepted samples between two searches for the mode (~0.5 s): cheap on a Pi
_CANDIDATES = 120  # samples tried as the box's centre
_REJECT_AFTER = 3  # x the samples needed (~30 s of driving): a distracted start is no evidence against a mount


def road_ahead_pose(mount: tuple[float, float, float] | None) -> HeadPose:
    """The head pose the camera measures when the driver looks along the road, from the mount's angles: a camera
    to the driver's right sees the road-ahead face turned to the driver's left (yaw > 0), one above the eyes sees
    it looking down."""
    if mount is None:
        return HeadPose(0.0, 0.0, 0.0)
    yaw, pitch, roll = mount
    return HeadPose(yaw=yaw, pitch=-pitch, roll=roll)


def mount_from_road_ahead(road: HeadPose) -> tuple[float, float, float]:
    """The inverse of road_ahead_pose: the mount's (yaw, pitch, roll) from the road-ahead pose the camera saw."""
    return road.yaw, -road.pitch, road.roll


class VehicleFrame:
    """Camera head pose → head pose against the road-ahead line of the mount."""

    def __init__(self, mount: tuple[float, float, float] | None):
        self._road_inv = pose_to_rotation(road_ahead_pose(mount)).T
        self.identity = mount is None or mount == (0.0, 0.0, 0.0)

    def to_vehicle(self, pose: HeadPose) -> HeadPose:
        if self.identity:
            return pose
        return rotation_to_pose(self._road_inv @ pose_to_rotation(pose))


@dataclass(frozen=True, slots=True)
class Calibration:
    status: CalibrationStatus  # "mount": judged against the mount alone; "calibrating": no reference yet
    progress: float  # [0, 1]: confident samples while moving over the samples needed
    yaw: float  # the road-ahead pose in the vehicle frame (0, 0 is the mount's road-ahead line)
    pitch: float
    mount_rejected: bool = False  # most of the driver's poses lie outside the mount's bounds: the mount is wrong

    @property
    def usable(self) -> bool:
        """A reference head pose exists (the mount's, or a learned one)."""
        return self.status != "calibrating"


class PoseCalibration:
    def __init__(self, has_mount: bool, samples: int, min_share: float, max_offset_yaw: float,
                 max_offset_pitch: float):
        self.has_mount = has_mount
        self.samples = samples
        self.min_share = min_share
        self.max_offset = (max_offset_yaw, max_offset_pitch)
        self._yaws: deque[float] = deque(maxlen=_WINDOW)  # every confident pose while moving, in the window
        self._pitches: deque[float] = deque(maxlen=_WINDOW)
        self._seen = 0
        self._learned: tuple[float, float] | None = None
        self._mount_rejected = False

    def reset(self) -> None:
        """A new driver (or `cmd/calibrate`): learn the road-ahead pose again."""
        self.__init__(self.has_mount, self.samples, self.min_share, *self.max_offset)  # type: ignore[misc]

    @property
    def state(self) -> Calibration:
        progress = min(1.0, self._seen / self.samples)
        if self._learned is not None:
            return Calibration("calibrated", 1.0, *self._learned, self._mount_rejected)
        trusted = self.has_mount and not self._mount_rejected
        return Calibration("mount" if trusted else "calibrating", progress, 0.0, 0.0, self._mount_rejected)

    def learn(self, vehicle_pose: HeadPose, confident: bool, moving: bool) -> None:
        if not (confident and moving):
            return
        self._yaws.append(vehicle_pose.yaw)
        self._pitches.append(vehicle_pose.pitch)
        self._seen += 1
        if self._seen >= self.samples and self._seen % _REFRESH == 0:
            self._search()

    def _search(self) -> None:
        yaws, pitches = np.fromiter(self._yaws, float), np.fromiter(self._pitches, float)
        candidates = np.ones(len(yaws), bool)
        if self.has_mount and not self._mount_rejected:
            # Poses too far from the mount's road-ahead line are never road ahead, unless most poses are: then the
            # mount is wrong (moved, or the preset does not fit), and the pose is learned as without a mount.
            candidates = (np.abs(yaws) <= self.max_offset[0]) & (np.abs(pitches) <= self.max_offset[1])
            if candidates.mean() < 0.5 and self._seen >= _REJECT_AFTER * self.samples:
                self._mount_rejected, self._learned = True, None
                candidates[:] = True
        if not candidates.any():
            return  # nothing near the mount (yet)
        centre, members = _densest(yaws[candidates], pitches[candidates])
        if members.sum() < self.min_share * len(yaws):  # a share of every pose, not only of those near the mount
            return  # no pose dominates (yet): keep what was learned, or keep calibrating
        # The road is where the driver keeps coming back to: the older and the newer half of the samples must each
        # have their densest pose there too. A drive that starts with a long look at a screen has its older half
        # elsewhere, and is not learned until the road holds both halves.
        half = len(yaws) // 2
        for part in (slice(0, half), slice(half, None)):
            (y, p), _ = _densest(yaws[part], pitches[part])
            if abs(y - centre[0]) > _MODE_HALF_YAW or abs(p - centre[1]) > _MODE_HALF_PITCH:
                return
        chosen_y, chosen_p = yaws[candidates][members], pitches[candidates][members]
        self._learned = (float(np.median(chosen_y)), float(np.median(chosen_p)))


def _densest(yaws: np.ndarray, pitches: np.ndarray) -> tuple[tuple[float, float], np.ndarray]:
    """The centre of the mode box holding the most samples (tried at up to _CANDIDATES of them), and the mask of
    the samples inside it."""
    step = max(1, len(yaws) // _CANDIDATES)
    cy, cp = yaws[::step, None], pitches[::step, None]
    inside = (np.abs(yaws[None, :] - cy) <= _MODE_HALF_YAW) & (np.abs(pitches[None, :] - cp) <= _MODE_HALF_PITCH)
    best = int(np.argmax(inside.sum(axis=1)))
    return (float(cy[best, 0]), float(cp[best, 0])), inside[best]

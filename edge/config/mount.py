"""`[camera.mount]`: where the camera sits relative to the driver's road-ahead line, and the presets.

The angles are the camera's bearing seen from the driver's eyes, against the line the driver looks along when
watching the road: `yaw_deg` > 0 the camera is to the driver's right, `pitch_deg` > 0 it is above the eye line,
`roll_deg` > 0 it is turned so that an upright head looks tilted to the driver's left shoulder. A preset gives all
three for a usual position; any angle set beside it overrides the preset's. Without a preset or an angle there is
no mount: the road-ahead pose is learned online (docs/calibration.md) and until then head pose raises no alert.
"""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from edge.config._base import _Section, bounded

MountPreset = Literal[
    "steering_column",
    "dash_centre_lhd",
    "dash_centre_rhd",
    "a_pillar_lhd",
    "a_pillar_rhd",
    "mirror_lhd",
    "mirror_rhd",
]

# (yaw, pitch, roll) in degrees, for a driver of average height in a passenger car; `dms calibrate` or the online
# calibration refine them. Left-hand drive: the driver sits on the left, so the centre of the dash and the mirror
# are to the driver's right and the driver's own A-pillar to the left; right-hand drive mirrors the yaw.
MOUNT_PRESETS: dict[str, tuple[float, float, float]] = {
    "steering_column": (0.0, -20.0, 0.0),  # on the column behind the wheel, looking up at the face
    "dash_centre_lhd": (25.0, -10.0, 0.0),
    "dash_centre_rhd": (-25.0, -10.0, 0.0),
    "a_pillar_lhd": (-35.0, 5.0, 0.0),
    "a_pillar_rhd": (35.0, 5.0, 0.0),
    "mirror_lhd": (40.0, 10.0, 0.0),  # under the rear-view mirror
    "mirror_rhd": (-40.0, 10.0, 0.0),
}

Angle = bounded(None, ge=-90.0, le=90.0, why="a camera more than a right angle off the driver's line of sight sees "
                "no face")


class MountConfig(_Section):
    preset: MountPreset | None = None
    yaw_deg: float | None = Angle  # > 0: the camera is to the driver's right
    pitch_deg: float | None = Angle  # > 0: the camera is above the driver's eye line
    roll_deg: float | None = Angle

    @model_validator(mode="after")
    def _whole(self) -> MountConfig:
        given = [a is not None for a in (self.yaw_deg, self.pitch_deg, self.roll_deg)]
        if self.preset is None and any(given) and not (given[0] and given[1]):
            raise ValueError("without a preset, a mount needs at least yaw_deg and pitch_deg")
        return self

    @property
    def configured(self) -> bool:
        return self.preset is not None or self.yaw_deg is not None

    def angles(self) -> tuple[float, float, float] | None:
        """(yaw, pitch, roll) of the camera, degrees; None without a mount."""
        if not self.configured:
            return None
        base = MOUNT_PRESETS[self.preset] if self.preset is not None else (0.0, 0.0, 0.0)
        own = (self.yaw_deg, self.pitch_deg, self.roll_deg)
        yaw, pitch, roll = (b if o is None else o for b, o in zip(base, own))
        return yaw, pitch, roll

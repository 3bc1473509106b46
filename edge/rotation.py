"""Head pose angles <-> rotation matrices in camera axes (x to the image's right, y down, z away from the camera).
Pure: the vision stage and the monitor's vehicle frame share it without the monitor importing OpenCV."""

from __future__ import annotations

import math

import numpy as np

from edge.types import HeadPose


def rotation_to_pose(r: np.ndarray) -> HeadPose:
    """R = Rz(roll)·Ry(yaw)·Rx(pitch) in camera axes, signs turned to the driver's view (see HeadPose)."""
    pitch = math.atan2(r[2, 1], r[2, 2])
    yaw = math.atan2(-r[2, 0], math.hypot(r[2, 1], r[2, 2]))
    roll = math.atan2(r[1, 0], r[0, 0])
    # Ry(+) turns the nose to the image's left (the driver's right); Rx(+) turns it down.
    return HeadPose(yaw=-math.degrees(yaw), pitch=-math.degrees(pitch), roll=math.degrees(roll))


def pose_to_rotation(pose: HeadPose) -> np.ndarray:
    """Inverse of rotation_to_pose (used to build known geometry in tests and to undo a neutral pose)."""
    p, y, r = math.radians(-pose.pitch), math.radians(-pose.yaw), math.radians(pose.roll)
    rx = np.array([[1, 0, 0], [0, math.cos(p), -math.sin(p)], [0, math.sin(p), math.cos(p)]])
    ry = np.array([[math.cos(y), 0, math.sin(y)], [0, 1, 0], [-math.sin(y), 0, math.cos(y)]])
    rz = np.array([[math.cos(r), -math.sin(r), 0], [math.sin(r), math.cos(r), 0], [0, 0, 1]])
    return rz @ ry @ rx

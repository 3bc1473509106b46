import math

import cv2
import numpy as np
import pytest

from edge.rotation import pose_to_rotation, rotation_to_pose
from edge.types import HeadPose
from edge.vision.geometry import (
    LEFT_EYE,
    MOUTH_CORNERS,
    MOUTH_VERTICAL,
    POSE_LANDMARKS,
    POSE_MODEL,
    RIGHT_EYE,
    HeadPoseEstimator,
    camera_matrix,
    eye_aspect_ratio,
    mouth_aspect_ratio,
)


def _eye(points, idx, opening):
    """Place an eye 10 px wide whose lids are `opening` px apart."""
    p1, p2, p3, p4, p5, p6 = idx
    points[p1, :2] = (0, 0)
    points[p4, :2] = (10, 0)
    points[p2, :2] = (3, -opening / 2)
    points[p3, :2] = (7, -opening / 2)
    points[p6, :2] = (3, opening / 2)
    points[p5, :2] = (7, opening / 2)


@pytest.mark.parametrize("opening, expected", [(4.0, 0.4), (1.0, 0.1), (0.0, 0.0)])
def test_eye_aspect_ratio_on_known_geometry(opening, expected):
    pts = np.zeros((468, 3), np.float32)
    _eye(pts, RIGHT_EYE, opening)
    assert eye_aspect_ratio(pts, RIGHT_EYE) == pytest.approx(expected)
    # scale and translation invariant
    assert eye_aspect_ratio(pts * 3 + 50, RIGHT_EYE) == pytest.approx(expected)


def test_left_and_right_eyes_use_their_own_points():
    pts = np.zeros((468, 3), np.float32)
    _eye(pts, RIGHT_EYE, 4.0)
    _eye(pts, LEFT_EYE, 1.0)
    assert eye_aspect_ratio(pts, RIGHT_EYE) == pytest.approx(0.4)
    assert eye_aspect_ratio(pts, LEFT_EYE) == pytest.approx(0.1)


def test_mouth_aspect_ratio_on_known_geometry():
    pts = np.zeros((468, 3), np.float32)
    pts[MOUTH_CORNERS[0], :2] = (0, 0)
    pts[MOUTH_CORNERS[1], :2] = (40, 0)
    for (upper, lower), gap in zip(MOUTH_VERTICAL, (10, 20, 30)):
        pts[upper, :2] = (20, -gap / 2)
        pts[lower, :2] = (20, gap / 2)
    assert mouth_aspect_ratio(pts) == pytest.approx(20 / 40)


def test_degenerate_widths_give_zero_not_an_error():
    pts = np.zeros((468, 3), np.float32)
    assert eye_aspect_ratio(pts, LEFT_EYE) == 0.0
    assert mouth_aspect_ratio(pts) == 0.0


@pytest.mark.parametrize("pose", [HeadPose(0, 0, 0), HeadPose(25, -10, 5), HeadPose(-35, 15, -12), HeadPose(5, 30, 20)])
def test_rotation_round_trip(pose):
    back = rotation_to_pose(pose_to_rotation(pose))
    assert (back.yaw, back.pitch, back.roll) == pytest.approx((pose.yaw, pose.pitch, pose.roll), abs=1e-9)


def _project(pose: HeadPose, width=640, height=360, distance=3000.0) -> np.ndarray:
    rvec = cv2.Rodrigues(pose_to_rotation(pose))[0]
    img, _ = cv2.projectPoints(POSE_MODEL, rvec, np.array([0.0, 0.0, distance]), camera_matrix(width, height), None)
    return img.reshape(-1, 2)


@pytest.mark.parametrize("pose", [HeadPose(0, 0, 0), HeadPose(30, 0, 0), HeadPose(-20, 10, 5), HeadPose(10, -25, -15)])
def test_head_pose_recovered_from_projected_face(pose):
    est = HeadPoseEstimator().estimate(_project(pose), 640, 360)
    assert est is not None
    assert (est.yaw, est.pitch, est.roll) == pytest.approx((pose.yaw, pose.pitch, pose.roll), abs=0.5)


def test_head_pose_signs_follow_the_driver():
    nose, r_eye, l_eye = 0, 2, 3  # indices into POSE_MODEL
    # Turning to the driver's left moves the nose to the image's right (the camera faces the driver).
    p = _project(HeadPose(yaw=20, pitch=0, roll=0))
    assert p[nose, 0] > (p[r_eye, 0] + p[l_eye, 0]) / 2
    # Looking up moves the nose up in the image, towards the eyes.
    up, level = _project(HeadPose(0, 20, 0)), _project(HeadPose(0, 0, 0))
    assert up[nose, 1] - up[r_eye, 1] < level[nose, 1] - level[r_eye, 1]
    # Tilting to the left shoulder lowers the eye on the image's right.
    p = _project(HeadPose(0, 0, 15))
    assert p[l_eye, 1] > p[r_eye, 1]
    assert math.degrees(math.atan2(p[l_eye, 1] - p[r_eye, 1], p[l_eye, 0] - p[r_eye, 0])) == pytest.approx(15, abs=1)


def test_pose_from_landmarks_uses_the_pose_points():
    pts = np.zeros((468, 3), np.float32)
    pts[list(POSE_LANDMARKS), :2] = _project(HeadPose(15, 5, 0))
    est = HeadPoseEstimator().from_landmarks(pts, 640, 360)
    assert est.yaw == pytest.approx(15, abs=0.5) and est.pitch == pytest.approx(5, abs=0.5)


def test_focal_length_override_changes_intrinsics():
    k = camera_matrix(640, 480, focal_px=500.0)
    assert k[0, 0] == k[1, 1] == 500.0 and (k[0, 2], k[1, 2]) == (320, 240)
    assert camera_matrix(640, 480)[0, 0] == 640.0

"""The rotated-ROI maths of the landmark stage, and driver selection and quality."""

import math

import numpy as np
import pytest

from edge.config import VisionConfig
from edge.types import Box, Detection, HeadPose
from edge.vision.landmarks import (
    LEFT_EYE_OUTER,
    RIGHT_EYE_OUTER,
    ROI_SCALE,
    Roi,
    crop,
    roi_from_detection,
    roi_from_landmarks,
)
from edge.vision.pipeline import face_quality, in_region, select_driver


def test_crop_to_frame_maps_centre_corners_and_rotation():
    roi = Roi(cx=100.0, cy=50.0, size=40.0, angle=math.radians(90))
    m = roi.crop_to_frame(20)

    def to_frame(u, v):
        return m @ np.array([u, v, 1.0])

    np.testing.assert_allclose(to_frame(10, 10), [100, 50])  # crop centre -> ROI centre
    # the crop's x axis runs along the ROI's rotated axis: 90 degrees is straight down the image
    np.testing.assert_allclose(to_frame(20, 10), [100, 70], atol=1e-9)
    np.testing.assert_allclose(to_frame(10, 20), [80, 50], atol=1e-9)


def test_crop_samples_the_roi():
    image = np.zeros((100, 200), np.uint8)
    image[40:60, 90:110] = 255  # a white square around (100, 50)
    patch = crop(image, Roi(100.0, 50.0, 40.0, 0.3), 40)
    assert patch[20, 20] == 255 and patch[2, 2] == 0  # centre white, corner black


def _face_points(cx, cy, width, roll_deg):
    """A ring of 468 points (a face outline) with the two eye corners placed level across the face, rolled."""
    a = np.linspace(0, 2 * np.pi, 468, endpoint=False)
    pts = np.stack([np.cos(a) * width / 2, np.sin(a) * width / 2, np.zeros_like(a)], 1)
    pts[RIGHT_EYE_OUTER, :2] = (-width / 4, -width / 8)
    pts[LEFT_EYE_OUTER, :2] = (width / 4, -width / 8)
    r = math.radians(roll_deg)
    rot = np.array([[math.cos(r), -math.sin(r)], [math.sin(r), math.cos(r)]])
    pts[:, :2] = pts[:, :2] @ rot.T + (cx, cy)
    return pts


@pytest.mark.parametrize("roll", [0.0, 25.0, -40.0])
def test_roi_from_landmarks_follows_the_roll_and_keeps_its_size(roll):
    roi = roi_from_landmarks(_face_points(300, 200, 100, roll))
    assert (roi.cx, roi.cy) == pytest.approx((300, 200), abs=1e-6)
    assert math.degrees(roi.angle) == pytest.approx(roll, abs=1e-6)
    # the box is taken in the face's own frame, so a rolled face does not grow its ROI
    assert roi.size == pytest.approx(100 * ROI_SCALE, rel=1e-3)


def test_roi_from_detection_uses_the_box_and_eye_keypoints():
    kps = np.array([[80, 110], [120, 90], [100, 100], [100, 120], [60, 100], [140, 100]], np.float32)
    roi = roi_from_detection(Detection(Box(60, 60, 140, 150), kps, 0.9))
    assert (roi.cx, roi.cy) == (100, 105) and roi.size == pytest.approx(90 * ROI_SCALE)
    assert math.degrees(roi.angle) == pytest.approx(math.degrees(math.atan2(-20, 40)))


def _det(x0, y0, side):
    return Detection(Box(x0, y0, x0 + side, y0 + side), np.zeros((6, 2), np.float32), 0.9)


def test_select_driver_takes_the_largest_face_in_the_region():
    driver, passenger, small = _det(400, 100, 150), _det(50, 100, 200), _det(500, 300, 40)
    region = (0.5, 0.0, 1.0, 1.0)  # the right half of a 640x480 frame
    assert select_driver([passenger, small, driver], 640, 480, region) is driver
    assert select_driver([passenger], 640, 480, region) is None
    assert in_region(driver.box, 640, 480, region) and not in_region(passenger.box, 640, 480, region)


def test_face_quality_falls_with_size_and_pose():
    cfg = VisionConfig()
    front = HeadPose(0, 0, 0)
    assert face_quality(0.99, 200, front, cfg) == pytest.approx(0.99)
    assert face_quality(0.99, 39, front, cfg) == 0.0  # below min_face_size_px
    assert face_quality(0.99, 60, front, cfg) == pytest.approx(0.99 * 60 / 80)
    assert face_quality(0.99, 200, HeadPose(22.5, 0, 0), cfg) == pytest.approx(0.99)  # up to half the max pose
    assert face_quality(0.99, 200, HeadPose(0, -33.75, 0), cfg) == pytest.approx(0.99 * 0.5)
    assert face_quality(0.99, 200, HeadPose(50, 0, 0), cfg) == 0.0

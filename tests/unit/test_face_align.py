"""Face alignment into FER-2013's framing: the transform, and a face cut back out of a larger frame."""

import math

import cv2
import numpy as np
import pytest

from edge.vision.face_align import ALIGN_LANDMARKS, FACE_SIZE, FER_TEMPLATE, align_face, similarity


def test_similarity_recovers_rotation_scale_and_shift():
    rng = np.random.default_rng(1)
    src = rng.uniform(0, 100, (9, 2))
    angle, scale, shift = 0.3, 1.7, np.array([12.0, -5.0])
    rot = scale * np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    m = similarity(src, src @ rot.T + shift)
    assert m[:, :2] == pytest.approx(rot, abs=1e-9) and m[:, 2] == pytest.approx(shift, abs=1e-9)


def test_similarity_of_degenerate_points_is_finite():
    m = similarity(np.ones((9, 2)), FER_TEMPLATE.astype(np.float64))
    assert np.all(np.isfinite(m))


@pytest.mark.parametrize("angle_deg, scale", [(0.0, 1.0), (25.0, 3.0), (-40.0, 6.5)])
def test_a_face_placed_in_a_frame_is_cut_back_out(angle_deg, scale):
    # A textured 48x48 "face" put into a 640x480 frame turned and enlarged; its landmarks are the template's
    # points carried along. Cutting it back out must give the same picture (the large faces through the
    # warp-then-area-average path).
    rng = np.random.default_rng(0)
    face = cv2.GaussianBlur(rng.integers(0, 256, (FACE_SIZE, FACE_SIZE)).astype(np.uint8), (0, 0), 1.5)
    face = cv2.normalize(face, None, 0, 255, cv2.NORM_MINMAX)
    to_frame = cv2.getRotationMatrix2D((FACE_SIZE / 2, FACE_SIZE / 2), angle_deg, scale)
    to_frame[:, 2] += np.array([320.0, 240.0]) - FACE_SIZE / 2
    frame = cv2.warpAffine(face, to_frame, (640, 480), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    points = np.zeros((468, 3), np.float32)
    points[list(ALIGN_LANDMARKS), :2] = FER_TEMPLATE @ to_frame[:, :2].T + to_frame[:, 2]
    out = align_face(frame, points)
    assert out.shape == (FACE_SIZE, FACE_SIZE) and out.dtype == np.uint8
    inner = slice(6, FACE_SIZE - 6)  # the border is interpolated from outside the face
    a, b = face[inner, inner].astype(float), out[inner, inner].astype(float)
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.9

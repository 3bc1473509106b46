"""MediaPipe FaceMesh (468 landmarks) on a rotated square region of interest.

The ROI follows MediaPipe's face_landmark_front graph: a square 1.5× the face, rotated so the eyes are level,
from the detector's box and eye keypoints on a fresh detection, or from the previous frame's landmarks (eye
corners 33 and 263) while tracking.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from edge.runtime import Model
from edge.types import Detection
from edge.vision.preprocess import Normaliser

INPUT_SIZE = 192
ROI_SCALE = 1.5
_UNIT = np.float32(1.0 / 255.0)
RIGHT_EYE_OUTER, LEFT_EYE_OUTER = 33, 263  # the driver's right and left eye corners


@dataclass(frozen=True, slots=True)
class Roi:
    """A rotated square in frame pixels: centre, side, rotation (radians, image coordinates)."""

    cx: float
    cy: float
    size: float
    angle: float

    def crop_to_frame(self, crop_size: int) -> np.ndarray:
        """2×3 affine taking crop pixels to frame pixels."""
        s = self.size / crop_size
        c, n = math.cos(self.angle) * s, math.sin(self.angle) * s
        half = crop_size / 2
        return np.array([[c, -n, self.cx - c * half + n * half], [n, c, self.cy - n * half - c * half]])


def _angle(start: np.ndarray, end: np.ndarray) -> float:
    return math.atan2(float(end[1] - start[1]), float(end[0] - start[0]))


def roi_from_detection(det: Detection) -> Roi:
    cx, cy = det.box.center
    side = max(det.box.width, det.box.height) * ROI_SCALE
    return Roi(cx, cy, side, _angle(det.keypoints[0], det.keypoints[1]))


def roi_from_landmarks(points: np.ndarray) -> Roi:
    """The ROI for the next frame. The box is taken in the face's own rotated frame, which keeps it tight and
    steady when the head rolls (an image-aligned box grows with the roll)."""
    angle = _angle(points[RIGHT_EYE_OUTER], points[LEFT_EYE_OUTER])
    c, s = math.cos(angle), math.sin(angle)
    xy = points[:, :2]
    u = xy[:, 0] * c + xy[:, 1] * s
    v = -xy[:, 0] * s + xy[:, 1] * c
    mu, mv = (u.min() + u.max()) / 2, (v.min() + v.max()) / 2
    side = max(u.max() - u.min(), v.max() - v.min()) * ROI_SCALE
    return Roi(mu * c - mv * s, mu * s + mv * c, side, angle)


def crop(gray: np.ndarray, roi: Roi, size: int) -> np.ndarray:
    """Gray crop of the ROI (outside the frame is black)."""
    return cv2.warpAffine(
        gray, roi.crop_to_frame(size), (size, size), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderValue=0
    )


@dataclass(frozen=True, slots=True)
class LandmarkResult:
    points: np.ndarray  # (468, 3) in frame pixels; z scaled like x
    presence: float  # face-presence probability from the model


class FaceMesh:
    def __init__(self, model: Model, normaliser: Normaliser):
        self.model = model
        self.normaliser = normaliser

    def run(self, gray: np.ndarray, roi: Roi) -> LandmarkResult:
        unit = self.normaliser.gray(crop(gray, roi, INPUT_SIZE)).astype(np.float32)
        unit *= _UNIT  # [0, 1]

        def fill(x: np.ndarray) -> None:  # the gray patch into each RGB channel (numpy's broadcast is 10x slower)
            cv2.merge((unit, unit, unit), dst=x[0])

        raw, logit = self.model.run_filled(fill)
        pts = raw.reshape(468, 3)
        m = roi.crop_to_frame(INPUT_SIZE)
        xy = pts[:, :2] @ m[:, :2].T + m[:, 2]
        z = pts[:, 2:3] * (roi.size / INPUT_SIZE)
        presence = 1.0 / (1.0 + math.exp(-min(100.0, max(-100.0, float(logit.reshape(-1)[0])))))
        return LandmarkResult(np.concatenate([xy, z], axis=1).astype(np.float32), presence)

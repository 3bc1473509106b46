"""Cut a face out of a camera frame the way FER-2013 frames its faces, from the face's FaceMesh landmarks.

The emotion model is trained on FER-2013's 48x48 faces as they are; in the car the same framing is made by a
least-squares similarity transform (rotation, scale, shift) taking landmarks that do not move with expression
(eye corners, nose bridge and tip, the face's sides) onto where FER-2013 puts them. Mouth and brows are left out:
they are the expression, and aligning on them would take part of it away.
"""

from __future__ import annotations

import cv2
import numpy as np

from edge.vision.landmarks import FaceMesh, LandmarkResult, Roi, roi_from_landmarks

FACE_SIZE = 48  # FER-2013's faces: the framing the emotion models are trained on
# FaceMesh indices: eye corners (33, 133 | 362, 263), nose bridge (168, 6), nose tip (1), face sides (234, 454).
ALIGN_LANDMARKS = (33, 133, 362, 263, 168, 6, 1, 234, 454)
# Median positions in FER-2013's 48x48 frame, measured by tools/fer_template.py on 3,623 training faces (single
# faces sit a median 2-5 px from it: the alignment noise the training augmentation covers).
FER_TEMPLATE = np.array([
    [11.09, 18.33], [18.77, 18.95], [28.60, 18.87], [36.27, 18.11],  # eye corners
    [23.63, 17.49], [23.64, 19.80], [23.66, 29.46],  # nose bridge, tip
    [5.61, 21.86], [42.09, 21.62],  # face sides
], np.float32)


def similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 2x3 rotation + uniform scale + shift taking `src` points closest to `dst` (least squares, closed form:
    as complex numbers, d ≈ a·s + b)."""
    ms, md = src.mean(axis=0), dst.mean(axis=0)
    s = (src[:, 0] - ms[0]) + 1j * (src[:, 1] - ms[1])
    d = (dst[:, 0] - md[0]) + 1j * (dst[:, 1] - md[1])
    a = np.vdot(s, d) / max(float(np.vdot(s, s).real), 1e-9)
    rot = np.array([[a.real, -a.imag], [a.imag, a.real]])
    return np.hstack([rot, (md - rot @ ms)[:, None]])


def align_face(gray: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The FACE_SIZE² uint8 face in FER-2013 framing. A large face is warped to a multiple of the size first and
    then area-averaged down, as FER-2013's faces were: warping straight to 48 px would alias."""
    m = similarity(points[list(ALIGN_LANDMARKS), :2].astype(np.float64), FER_TEMPLATE.astype(np.float64))
    factor = int(np.clip(1.0 / max(abs(complex(m[0, 0], m[1, 0])), 1e-9), 1, 4))
    size = FACE_SIZE * factor
    face = cv2.warpAffine(gray, m * factor, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return face if factor == 1 else cv2.resize(face, (FACE_SIZE, FACE_SIZE), interpolation=cv2.INTER_AREA)


def landmarks_in_fer_face(mesh: FaceMesh, face: np.ndarray, upscale: int = 4) -> LandmarkResult:
    """FaceMesh landmarks of a FER-style face image, in its own pixels: the image is upscaled and padded (FER
    crops are tighter than FaceMesh's ROI), the ROI taken around the whole face, then refined once from the first
    landmarks, as tracking does on video."""
    pad = face.shape[0] * upscale // 2
    big = cv2.resize(face, None, fx=upscale, fy=upscale, interpolation=cv2.INTER_CUBIC)
    big = cv2.copyMakeBorder(big, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    centre = big.shape[0] / 2
    first = mesh.run(big, Roi(centre, centre, face.shape[0] * upscale * 1.3, 0.0))
    found = mesh.run(big, roi_from_landmarks(first.points))
    points = found.points.copy()
    points[:, :2] = (points[:, :2] - pad + 0.5) / upscale - 0.5
    points[:, 2] /= upscale
    return LandmarkResult(points, found.presence)

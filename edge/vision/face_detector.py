"""MediaPipe BlazeFace short-range: SSD anchors, box/keypoint decoding, weighted NMS, letterboxing.

Decoding follows MediaPipe's own options for this model (ssd_anchors_calculator and
tensors_to_detections_calculator in face_detection_short_range.pbtxt): strides 8, 16, 16, 16 on a 128 px input,
fixed anchor size 1, offsets in 128 px units, scores as sigmoid of logits clipped to ±100.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from edge.runtime import Model
from edge.types import Box, Detection
from edge.vision.preprocess import Normaliser

INPUT_SIZE = 128
_STRIDES = (8, 16, 16, 16)
_SCORE_CLIP = 100.0


@lru_cache(maxsize=1)
def anchors() -> np.ndarray:
    """(896, 2) anchor centres in [0, 1] (x, y). Consecutive layers with the same stride share one grid, each
    adding two anchors per cell (one per aspect ratio and the interpolated scale): 16×16×2 + 8×8×6 = 896."""
    out = []
    layer = 0
    while layer < len(_STRIDES):
        stride = _STRIDES[layer]
        per_cell = 0
        while layer < len(_STRIDES) and _STRIDES[layer] == stride:
            per_cell += 2
            layer += 1
        grid = INPUT_SIZE // stride
        ys, xs = np.mgrid[0:grid, 0:grid]
        centres = np.stack([(xs + 0.5) / grid, (ys + 0.5) / grid], axis=-1).reshape(-1, 1, 2)
        out.append(np.repeat(centres, per_cell, axis=1).reshape(-1, 2))
    return np.concatenate(out).astype(np.float32)


def decode(regressors: np.ndarray, logits: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw model outputs (896×16, 896) to boxes (N×4: x0, y0, x1, y1), keypoints (N×6×2) and scores (N), in
    normalised input coordinates, keeping scores >= threshold."""
    clipped = np.clip(logits.reshape(-1).astype(np.float64), -_SCORE_CLIP, _SCORE_CLIP)  # float32 exp overflows
    scores = 1.0 / (1.0 + np.exp(-clipped))
    keep = np.flatnonzero(scores >= threshold)
    if keep.size == 0:
        return np.zeros((0, 4), np.float32), np.zeros((0, 6, 2), np.float32), np.zeros(0, np.float32)
    reg = regressors.reshape(-1, 16)[keep] / INPUT_SIZE
    anc = anchors()[keep]
    centre = reg[:, 0:2] + anc
    half = reg[:, 2:4] / 2
    boxes = np.concatenate([centre - half, centre + half], axis=1)
    keypoints = reg[:, 4:16].reshape(-1, 6, 2) + anc[:, None, :]
    return boxes, keypoints, scores[keep]


def iou(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    x0 = np.maximum(box[0], others[:, 0])
    y0 = np.maximum(box[1], others[:, 1])
    x1 = np.minimum(box[2], others[:, 2])
    y1 = np.minimum(box[3], others[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-9)


def weighted_nms(
    boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray, iou_threshold: float
) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """MediaPipe's WEIGHTED suppression: each cluster of overlapping boxes (IoU > threshold with the best one) is
    replaced by the score-weighted mean of its boxes and keypoints, keeping the best score. Steadier than
    plain NMS, which makes the landmark ROI jitter between neighbouring anchors."""
    # A degenerate box (zero size, NaN) overlaps nothing, not even itself: drop it, and always count the best box
    # in its own cluster, so every round removes at least one box.
    sane = np.isfinite(boxes).all(1) & np.isfinite(keypoints).all((1, 2)) & np.isfinite(scores)
    sane &= (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    boxes, keypoints, scores = boxes[sane], keypoints[sane], scores[sane]
    order = np.argsort(-scores)
    boxes, keypoints, scores = boxes[order], keypoints[order], scores[order]
    remaining = np.arange(len(scores))
    out = []
    while remaining.size:
        best = remaining[0]
        overlap = iou(boxes[best], boxes[remaining]) > iou_threshold
        overlap[0] = True
        cluster = remaining[overlap]
        w = scores[cluster][:, None]
        box = (boxes[cluster] * w).sum(0) / w.sum()
        kps = (keypoints[cluster] * w[:, :, None]).sum(0) / w.sum()
        out.append((box, kps, float(scores[best])))
        remaining = remaining[~overlap]
    return out


def letterbox_matrix(width: int, height: int, size: int = INPUT_SIZE) -> np.ndarray:
    """2×3 affine from frame pixels to a size×size square holding the whole frame, centred, aspect kept."""
    scale = size / max(width, height)
    return np.array(
        [[scale, 0.0, (size - width * scale) / 2], [0.0, scale, (size - height * scale) / 2]], dtype=np.float64
    )


class FaceDetector:
    def __init__(self, model: Model, normaliser: Normaliser, score_threshold: float = 0.5, nms_iou: float = 0.3):
        self.model = model
        self.normaliser = normaliser
        self.score_threshold = score_threshold
        self.nms_iou = nms_iou

    def detect(self, gray: np.ndarray) -> list[Detection]:
        """Faces in a grayscale frame, in frame pixels, best score first."""
        h, w = gray.shape[:2]
        m = letterbox_matrix(w, h)
        square = cv2.warpAffine(gray, m, (INPUT_SIZE, INPUT_SIZE), flags=cv2.INTER_LINEAR, borderValue=0)
        rgb = self.normaliser.rgb(square)
        x = (rgb.astype(np.float32) * (2.0 / 255.0) - 1.0)[None]
        regressors, logits = self.model.run(x)
        boxes, kps, scores = decode(regressors[0], logits[0], self.score_threshold)
        if not len(scores):
            return []
        # Undo the letterbox: input pixel = scale * frame pixel + offset.
        scale, ox, oy = m[0, 0], m[0, 2], m[1, 2]
        offset = np.array([ox, oy])
        out = []
        for box, kp, score in weighted_nms(boxes, kps, scores, self.nms_iou):
            b = (box.reshape(2, 2) * INPUT_SIZE - offset) / scale
            k = (kp * INPUT_SIZE - offset) / scale
            out.append(Detection(Box(b[0, 0], b[0, 1], b[1, 0], b[1, 1]), k.astype(np.float32), score))
        return out

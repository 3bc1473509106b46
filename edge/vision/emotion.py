"""Facial emotion scores for all seven classes from an aligned face crop.

For now the model is the fer package's int8 CNN (64×64 gray, `(x/255 − 0.5) × 2`, FER-2013's seven classes);
the project's own model replaces it in its own issue, behind the same class.
"""

from __future__ import annotations

import numpy as np

from edge.runtime import Model
from edge.types import EMOTION_LABELS, EmotionEstimate
from edge.vision.landmarks import Roi, crop

INPUT_SIZE = 64
# FER-2013 faces run from the brows to the chin: 1.1x the landmark box, where the tracking ROI is 1.5x it.
FACE_CROP_SCALE = 1.1 / 1.5


class EmotionClassifier:
    def __init__(self, model: Model, labels: tuple[str, ...] = EMOTION_LABELS):
        self.model = model
        self.labels = labels

    def classify(self, gray: np.ndarray, face_roi: Roi, t: float) -> EmotionEstimate:
        """`face_roi` is the landmark tracking ROI (level eyes, 1.5x the face); the crop is cut tighter from it."""
        roi = Roi(face_roi.cx, face_roi.cy, face_roi.size * FACE_CROP_SCALE, face_roi.angle)
        face = crop(gray, roi, INPUT_SIZE).astype(np.float32)
        x = ((face * (1.0 / 255.0) - 0.5) * 2.0)[None, :, :, None]
        scores = self.model.run(x)[0].reshape(-1).astype(np.float64)
        if scores.min() < 0 or not 0.99 < scores.sum() < 1.01:  # logits, not probabilities
            e = np.exp(scores - scores.max())
            scores = e / e.sum()
        return EmotionEstimate({label: float(s) for label, s in zip(self.labels, scores)}, t)

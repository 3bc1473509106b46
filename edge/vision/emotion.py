"""Facial emotion scores for all seven classes from a face cut in FER-2013's framing (edge.vision.face_align).

The project's model (tools/train_emotion.py) sees the 48x48 face centre-cropped to 44x44 and standardised by
`prepare_face`, the same function its training uses. The fer package's model (the baseline) takes 64x64.
"""

from __future__ import annotations

import cv2
import numpy as np

from edge.runtime import Model
from edge.types import EMOTION_LABELS, EmotionEstimate
from edge.vision.face_align import FACE_SIZE, align_face

INPUT_SIZE = 44  # the project's model sees the centre; training shifts the face by up to the margin
_MARGIN = (FACE_SIZE - INPUT_SIZE) // 2
FER_PACKAGE_SIZE = 64
# vision.emotion_model → its manifest entry
EMOTION_MODELS = {"own": "emotion", "fer": "emotion_fer"}


def prepare_face(face: np.ndarray) -> np.ndarray:
    """A FACE_SIZE² uint8 face → INPUT_SIZE²×1 float32: the centre, standardised per face (mean 0, std 1, clipped
    to ±3), so the NIR camera's exposure and contrast do not matter. The std floor keeps a flat crop flat."""
    x = face[_MARGIN : _MARGIN + INPUT_SIZE, _MARGIN : _MARGIN + INPUT_SIZE].astype(np.float32)
    x = (x - x.mean()) / max(float(x.std()), 4.0)
    return np.clip(x, -3.0, 3.0)[:, :, None]


def prepare_face_fer_package(face: np.ndarray) -> np.ndarray:
    x = cv2.resize(face, (FER_PACKAGE_SIZE, FER_PACKAGE_SIZE), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    return ((x * (1.0 / 255.0) - 0.5) * 2.0)[:, :, None]


class EmotionClassifier:
    """Scores in EMOTION_LABELS order. The model's input size tells which preparation it was trained with."""

    def __init__(self, model: Model, labels: tuple[str, ...] = EMOTION_LABELS):
        side = model.inputs[0].shape[1]
        if side == INPUT_SIZE:
            self._prepare = prepare_face
        elif side == FER_PACKAGE_SIZE:
            self._prepare = prepare_face_fer_package
        else:
            raise ValueError(f"{model.path.name}: input {model.inputs[0].shape} is not an emotion model's")
        self.model = model
        self.labels = labels

    def scores(self, face: np.ndarray) -> np.ndarray:
        """Probabilities for a FACE_SIZE² uint8 face in FER-2013 framing."""
        scores = self.model.run(self._prepare(face)[None])[0].reshape(-1).astype(np.float64)
        if scores.min() < 0 or not 0.9 < scores.sum() < 1.1:  # logits, not (int8-rounded) probabilities
            e = np.exp(scores - scores.max())
            scores = e / e.sum()
        return scores / scores.sum()

    def classify(self, gray: np.ndarray, landmarks: np.ndarray, t: float) -> EmotionEstimate:
        scores = self.scores(align_face(gray, landmarks))
        return EmotionEstimate({label: float(s) for label, s in zip(self.labels, scores)}, t)

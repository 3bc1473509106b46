"""Facial emotion scores over EMOTION_LABELS (FER+'s eight classes) from a face cut in FER-2013's framing
(edge.vision.face_align).

The project's model (tools/train_emotion.py) sees the 48x48 face equalised, centre-cropped to 44x44 and
standardised by `prepare_face`, the same function its training uses. The fer package's model (the baseline) takes
64x64 and knows FER-2013's seven classes: its scores are given under their FER+ names, contempt always 0.
"""

from __future__ import annotations

from collections.abc import Sequence

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
# FER-2013's class names (folders of the dataset, the fer package's model) under their FER+ names
FER2013_TO_FERPLUS = {"angry": "anger", "disgust": "disgust", "fear": "fear", "happy": "happiness",
                      "sad": "sadness", "surprise": "surprise", "neutral": "neutral"}


def prepare_face(face: np.ndarray, equalise: bool = True) -> np.ndarray:
    """A FACE_SIZE² uint8 face → INPUT_SIZE²×1 float32: histogram-equalised as every training face was (by the
    dataset's source), so a NIR crop's gray levels are spread alike whatever the exposure, gamma or IR glare; then
    the centre, standardised (mean 0, std 1, clipped to ±3). The std floor keeps a flat crop flat. `equalise=False`
    only measures what equalising buys (tools/eval_emotion.py --no-equalise)."""
    x = cv2.equalizeHist(face) if equalise else face
    x = x[_MARGIN : _MARGIN + INPUT_SIZE, _MARGIN : _MARGIN + INPUT_SIZE].astype(np.float32)
    x = (x - x.mean()) / max(float(x.std()), 4.0)
    return np.clip(x, -3.0, 3.0)[:, :, None]


def prepare_face_fer_package(face: np.ndarray) -> np.ndarray:
    x = cv2.resize(face, (FER_PACKAGE_SIZE, FER_PACKAGE_SIZE), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    return ((x * (1.0 / 255.0) - 0.5) * 2.0)[:, :, None]


class EmotionClassifier:
    """Scores in EMOTION_LABELS order. The model's input size tells which preparation it was trained with; `labels`
    (its manifest entry's) are its outputs' classes, FER+ or FER-2013 names."""

    def __init__(self, model: Model, labels: Sequence[str] = EMOTION_LABELS, equalise: bool = True):
        side = model.inputs[0].shape[1]
        if side == INPUT_SIZE:
            self._prepare = lambda face: prepare_face(face, equalise)
        elif side == FER_PACKAGE_SIZE:
            self._prepare = prepare_face_fer_package
        else:
            raise ValueError(f"{model.path.name}: input {model.inputs[0].shape} is not an emotion model's")
        names = [FER2013_TO_FERPLUS.get(label, label) for label in labels]
        unknown = sorted(set(names) - set(EMOTION_LABELS))
        if unknown or len(set(names)) != len(names):
            raise ValueError(f"{model.path.name}: classes {list(labels)} are not distinct emotions of {EMOTION_LABELS}")
        self._columns = np.array([EMOTION_LABELS.index(name) for name in names])
        self.model = model

    def scores(self, face: np.ndarray) -> np.ndarray:
        """Probabilities over EMOTION_LABELS for a FACE_SIZE² uint8 face in FER-2013 framing (0 for a class the
        model does not know)."""
        raw = self.model.run(self._prepare(face)[None])[0].reshape(-1).astype(np.float64)
        if len(raw) != len(self._columns):
            raise ValueError(f"{self.model.path.name}: {len(raw)} outputs for {len(self._columns)} classes")
        if raw.min() < 0 or not 0.9 < raw.sum() < 1.1:  # logits, not (int8-rounded) probabilities
            e = np.exp(raw - raw.max())
            raw = e / e.sum()
        scores = np.zeros(len(EMOTION_LABELS))
        scores[self._columns] = raw / raw.sum()
        return scores

    def classify(self, gray: np.ndarray, landmarks: np.ndarray, t: float) -> EmotionEstimate:
        scores = self.scores(align_face(gray, landmarks))
        return EmotionEstimate({label: float(s) for label, s in zip(EMOTION_LABELS, scores)}, t)

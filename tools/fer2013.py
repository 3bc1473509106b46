"""The FER-2013 folder layout (Goodfellow et al., 2013): train_emotion.py, eval_emotion.py and fer_template.py read it.

A folder with one sub-folder per class (angry, disgust, fear, happy, neutral, sad, surprise) of 48x48 gray faces.
Labels are indices into edge.types.EMOTION_LABELS, the order every emotion model's scores are given in.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from edge.types import EMOTION_LABELS
from edge.vision.face_align import FACE_SIZE

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".pgm"}


def load_folder(root: Path) -> tuple[np.ndarray, np.ndarray, list[Path]]:
    """All faces under `root` as (N x 48 x 48 uint8, N labels, N paths), sorted by path for a stable order."""
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder")
    unknown = sorted(p.name for p in root.iterdir() if p.is_dir() and p.name not in EMOTION_LABELS)
    if unknown:
        raise ValueError(f"{root}: unknown class folders {unknown}; expected {list(EMOTION_LABELS)}")
    paths = sorted(p for p in root.glob("*/*") if p.suffix.lower() in IMAGE_EXTENSIONS)
    if not paths:
        raise ValueError(f"{root}: no images in class folders")
    faces = np.empty((len(paths), FACE_SIZE, FACE_SIZE), np.uint8)
    for i, path in enumerate(paths):
        image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if image is None:
            raise ValueError(f"{path}: not a readable image")
        if image.shape != (FACE_SIZE, FACE_SIZE):
            image = cv2.resize(image, (FACE_SIZE, FACE_SIZE), interpolation=cv2.INTER_AREA)
        faces[i] = image
    labels = np.array([EMOTION_LABELS.index(p.parent.name) for p in paths], np.int64)
    return faces, labels, paths

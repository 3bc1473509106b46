"""The FER-2013 folder layout (Goodfellow et al., 2013): train_emotion.py, eval_emotion.py and fer_template.py read it.

A folder with one sub-folder per class (angry, disgust, fear, happy, neutral, sad, surprise) of 48x48 gray faces.
Labels are indices into edge.types.EMOTION_LABELS, the order every emotion model's scores are given in.

FER+ (Barsoum et al., 2016) relabelled the same faces with ten annotators and eight classes, contempt among them:
`load_labelled` reads a `file,label` CSV of FER+ class names (FERPLUS_LABELS) with files relative to a folder.
"""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np

from edge.types import EMOTION_LABELS
from edge.vision.face_align import FACE_SIZE

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".pgm"}
FERPLUS_LABELS: tuple[str, ...] = (
    "neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt",
)
# A 7-class (FER-2013) model's classes under their FER+ names; it can never say contempt.
FER2013_TO_FERPLUS = {"angry": "anger", "disgust": "disgust", "fear": "fear", "happy": "happiness",
                      "sad": "sadness", "surprise": "surprise", "neutral": "neutral"}


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
    labels = np.array([EMOTION_LABELS.index(p.parent.name) for p in paths], np.int64)
    return read_faces(paths), labels, paths


def read_faces(paths: list[Path]) -> np.ndarray:
    faces = np.empty((len(paths), FACE_SIZE, FACE_SIZE), np.uint8)
    for i, path in enumerate(paths):
        image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if image is None:
            raise ValueError(f"{path}: not a readable image")
        if image.shape != (FACE_SIZE, FACE_SIZE):
            image = cv2.resize(image, (FACE_SIZE, FACE_SIZE), interpolation=cv2.INTER_AREA)
        faces[i] = image
    return faces


def load_labelled(root: Path, csv_path: Path) -> tuple[np.ndarray, np.ndarray, list[Path]]:
    """The faces a `file,label` CSV names (files relative to `root`, labels FER+ class names), as (faces, indices
    into FERPLUS_LABELS, paths), in the CSV's order. A bad line is an error naming it."""
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder")
    with csv_path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames is None or not {"file", "label"} <= set(reader.fieldnames):
            raise ValueError(f"{csv_path}: needs the columns file,label")
        rows = [(n, row["file"], row["label"]) for n, row in enumerate(reader, start=2)]
    if not rows:
        raise ValueError(f"{csv_path}: no faces listed")
    paths, labels = [], []
    for line, name, label in rows:
        if label not in FERPLUS_LABELS:
            raise ValueError(f"{csv_path}:{line}: label {label!r} is not one of {list(FERPLUS_LABELS)}")
        path = root / name
        if not path.is_file():
            raise ValueError(f"{csv_path}:{line}: {path}: no such file")
        paths.append(path)
        labels.append(FERPLUS_LABELS.index(label))
    return read_faces(paths), np.array(labels, np.int64), paths

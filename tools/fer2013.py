"""The FER-2013 folder layout (Goodfellow et al., 2013): train_emotion.py, eval_emotion.py and fer_template.py read it.

A folder with one sub-folder per class (angry, disgust, fear, happy, neutral, sad, surprise) of 48x48 gray faces.
FER+ (Barsoum et al., 2016) relabelled the same faces with ten annotators and eight classes, contempt among them:
`load_labelled` reads a `file,label` CSV of FER+ class names with files relative to a folder; `load_ferplus` reads
the dataset's own ferplus_labels.csv with the ten votes per face.

Labels are always indices into edge.types.EMOTION_LABELS (FER+'s names, the order every emotion model's scores are
given in): a folder's FER-2013 class names are mapped to their FER+ names.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge.types import EMOTION_LABELS
from edge.vision.emotion import FER2013_TO_FERPLUS
from edge.vision.face_align import FACE_SIZE

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".pgm"}
# The FER-2013 folders' seven classes, as they stand among FER+'s (no contempt): what a folder is scored over.
FER2013_CLASSES: tuple[str, ...] = tuple(c for c in EMOTION_LABELS if c in FER2013_TO_FERPLUS.values())


def load_folder(root: Path) -> tuple[np.ndarray, np.ndarray, list[Path]]:
    """All faces under `root` as (N x 48 x 48 uint8, N labels, N paths), sorted by path for a stable order."""
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder")
    unknown = sorted(p.name for p in root.iterdir() if p.is_dir() and p.name not in FER2013_TO_FERPLUS)
    if unknown:
        raise ValueError(f"{root}: unknown class folders {unknown}; expected {sorted(FER2013_TO_FERPLUS)}")
    paths = sorted(p for p in root.glob("*/*") if p.suffix.lower() in IMAGE_EXTENSIONS)
    if not paths:
        raise ValueError(f"{root}: no images in class folders")
    labels = np.array([EMOTION_LABELS.index(FER2013_TO_FERPLUS[p.parent.name]) for p in paths], np.int64)
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
    into EMOTION_LABELS, paths), in the CSV's order. A bad line is an error naming it."""
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
        if label not in EMOTION_LABELS:
            raise ValueError(f"{csv_path}:{line}: label {label!r} is not one of {list(EMOTION_LABELS)}")
        path = root / name
        if not path.is_file():
            raise ValueError(f"{csv_path}:{line}: {path}: no such file")
        paths.append(path)
        labels.append(EMOTION_LABELS.index(label))
    return read_faces(paths), np.array(labels, np.int64), paths


@dataclass(frozen=True)
class FerPlusSplit:
    """One split of ferplus_labels.csv: faces, majority labels (indices into EMOTION_LABELS), and the annotators'
    votes as a distribution over EMOTION_LABELS (the training target Barsoum et al. found best)."""

    faces: np.ndarray  # N x 48 x 48 uint8
    labels: np.ndarray  # N, indices into EMOTION_LABELS
    votes: np.ndarray  # N x 8 float32 in EMOTION_LABELS order, rows sum to 1


def vote_distribution(counts: np.ndarray) -> np.ndarray:
    """Ten annotators' counts over the eight classes → a distribution. A class with a single vote is dropped as
    noise when another class has more (as FER+'s majority rule does); unknown and not-a-face are not classes."""
    counts = counts.astype(np.float32)
    noisy = (counts == 1) & (counts.max(axis=1, keepdims=True) > 1)
    kept = np.where(noisy, 0.0, counts)
    return kept / kept.sum(axis=1, keepdims=True)


def load_ferplus(root: Path, split: str, drop_cross_split_duplicates: bool = False) -> FerPlusSplit:
    """The labelled faces of `split` (train or val) under `root` (the fer2013 folder, with its ferplus_labels.csv).
    With `drop_cross_split_duplicates`, faces whose pixels also sit in another split are left out (for training:
    the test faces must stay unseen)."""
    csv_path = root / "ferplus_labels.csv"
    with csv_path.open(newline="", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["file"].startswith(f"{split}/")]
    if drop_cross_split_duplicates:
        rows = [r for r in rows if r["cross_split_duplicate"] != "1"]
    if not rows:
        raise ValueError(f"{csv_path}: no labelled faces in {split}/")
    counts = np.array([[int(r[c]) for c in EMOTION_LABELS] for r in rows])
    labels = np.array([EMOTION_LABELS.index(r["label"]) for r in rows], np.int64)
    return FerPlusSplit(read_faces([root / r["file"] for r in rows]), labels, vote_distribution(counts))

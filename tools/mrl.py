"""The MRL Eye Dataset layout (Fusek, ISVC 2018), shared by train_eyes.py and eval_eyes.py.

A folder with `open/` and `closed/`, each holding crops named
`s<subject>_<id>_<gender>_<glasses>_<eyestate>_<reflections>_<lighting>_<sensor>.png` (or any image extension).
The folder name is the label; the file name's eye-state field must agree with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

CLASSES = ("open", "closed")  # label 1 = closed: the model gives P(closed)
IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".pgm"}
REFLECTIONS = {"0": "none", "1": "small", "2": "big"}
LIGHTING = {"0": "bad", "1": "good"}


@dataclass(frozen=True, slots=True)
class EyeSample:
    path: Path
    subject: str
    closed: bool
    glasses: bool
    reflections: str
    lighting: str
    sensor: str

    def conditions(self) -> dict[str, str]:
        return {
            "glasses": "yes" if self.glasses else "no",
            "reflections": self.reflections,
            "lighting": self.lighting,
            "sensor": self.sensor,
        }


def parse_name(path: Path, closed: bool) -> EyeSample:
    parts = path.stem.split("_")
    if len(parts) != 8 or not parts[0].startswith("s"):
        raise ValueError(
            f"{path}: not an MRL file name (s<subject>_<id>_<gender>_<glasses>_<state>_<refl>_<light>_<sensor>)"
        )
    subject, _id, _gender, glasses, state, reflections, lighting, sensor = parts
    if state not in ("0", "1") or (state == "0") != closed:
        folder = "closed" if closed else "open"
        raise ValueError(f"{path}: eye-state field {state!r} disagrees with its folder {folder}/")
    return EyeSample(
        path, subject, closed, glasses == "1", REFLECTIONS.get(reflections, reflections),
        LIGHTING.get(lighting, lighting), sensor,
    )


def list_samples(root: Path) -> list[EyeSample]:
    root = Path(root)
    missing = [c for c in CLASSES if not (root / c).is_dir()]
    if missing:
        raise FileNotFoundError(f"{root}: expected folders open/ and closed/ (missing: {', '.join(missing)})")
    samples = []
    for cls in CLASSES:
        for path in sorted((root / cls).iterdir()):
            if path.suffix.lower() in IMAGE_EXTENSIONS:
                samples.append(parse_name(path, cls == "closed"))
    if not samples:
        raise FileNotFoundError(f"{root}: no images in open/ or closed/")
    return samples


def load_gray(sample: EyeSample) -> np.ndarray:
    image = cv2.imread(str(sample.path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise ValueError(f"{sample.path}: unreadable image")
    return image


def split_by_subject(
    samples: list[EyeSample], seed: int, test: int, val: int
) -> tuple[list[str], list[str], list[str]]:
    """Subjects shuffled with `seed` into (train, val, test): no subject on two sides."""
    subjects = sorted({s.subject for s in samples})
    order = np.random.default_rng(seed).permutation(len(subjects))
    shuffled = [subjects[i] for i in order]
    return sorted(shuffled[test + val :]), sorted(shuffled[test : test + val]), sorted(shuffled[:test])

#!/usr/bin/env python3
"""Measure where FER-2013 puts a face: the median position of the alignment landmarks in its 48x48 frame.

    .venv/bin/python tools/fer_template.py [--data ../shared/datasets/fer2013/train] [--limit 4000]

Runs the pipeline's own FaceMesh on FER faces (upscaled, refined once from their own landmarks, as tracking does)
and prints the template that edge/vision/face_align.py holds, so the pipeline cuts faces from camera frames the
way the emotion model saw them in training. Also prints how far single faces sit from it (the alignment error the
training augmentation has to cover).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from fer2013 import load_folder  # noqa: E402

from edge.config import DEFAULT_MODELS_DIR  # noqa: E402
from edge.models import model_path  # noqa: E402
from edge.runtime import Model  # noqa: E402
from edge.vision.face_align import ALIGN_LANDMARKS, landmarks_in_fer_face  # noqa: E402
from edge.vision.landmarks import FaceMesh  # noqa: E402
from edge.vision.preprocess import Normaliser  # noqa: E402


def main() -> int:
    default = Path(os.environ.get("DMS_DATASETS", ROOT.parent / "shared" / "datasets")) / "fer2013" / "train"
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=default)
    parser.add_argument("--limit", type=int, default=4000, help="faces to measure (a seeded sample)")
    parser.add_argument("--min-presence", type=float, default=0.9)
    args = parser.parse_args()

    faces, _, _ = load_folder(args.data)
    pick = np.random.default_rng(0).choice(len(faces), min(args.limit, len(faces)), replace=False)
    mesh = FaceMesh(Model(model_path("face_landmarks", DEFAULT_MODELS_DIR)), Normaliser())
    points = []
    for i in pick:
        found = landmarks_in_fer_face(mesh, faces[i])
        if found is not None and found.presence >= args.min_presence:
            points.append(found.points[list(ALIGN_LANDMARKS), :2])
    pts = np.stack(points)
    template = np.median(pts, axis=0)
    spread = np.median(np.linalg.norm(pts - template, axis=2), axis=0)
    print(f"{len(pts)} of {len(pick)} faces with presence >= {args.min_presence}")
    print("FER_TEMPLATE = np.array([")
    for index, (x, y), s in zip(ALIGN_LANDMARKS, template, spread):
        print(f"    [{x:.2f}, {y:.2f}],  # landmark {index} (median distance of single faces: {s:.2f} px)")
    print("], np.float32)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

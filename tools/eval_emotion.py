#!/usr/bin/env python3
"""Score an emotion model on any folder laid out like FER-2013 (`<class>/<image>`, 48x48 gray faces).

    .venv/bin/python tools/eval_emotion.py --data DIR [--labels CSV] [--model own|fer|PATH] [--align landmarks]

`--model own` (the default) is models/emotion.tflite, `fer` the fer package's model (the baseline), or a .tflite
path. `--align landmarks` re-cuts every face the way the pipeline cuts it from a camera frame: FaceMesh on the
face, then edge.vision.face_align (faces where FaceMesh finds none are scored as they are, and counted).
`--labels CSV` scores the faces a `file,label` CSV names instead (files relative to DIR, labels FER+ class names:
neutral, happiness, surprise, sadness, anger, disgust, fear, contempt): the metrics are then over those eight
classes, and a 7-class model's classes are mapped to their FER+ names (it never says contempt, so every contempt
face counts against it).
Prints a summary, then as its last line one JSON object: accuracy, uar (mean per-class recall), per_class_recall,
confusion (rows true, columns predicted, in the order of `labels`), ms_per_face (preparation + invoke, one thread).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from fer2013 import FER2013_TO_FERPLUS, FERPLUS_LABELS, load_folder, load_labelled  # noqa: E402

from edge.config import DEFAULT_MODELS_DIR  # noqa: E402
from edge.models import ModelMissing, model_path  # noqa: E402
from edge.runtime import Model  # noqa: E402
from edge.types import EMOTION_LABELS  # noqa: E402
from edge.vision.emotion import EmotionClassifier  # noqa: E402
from edge.vision.face_align import align_face, landmarks_in_fer_face  # noqa: E402
from edge.vision.landmarks import FaceMesh  # noqa: E402
from edge.vision.preprocess import Normaliser  # noqa: E402

MIN_PRESENCE = 0.5  # the pipeline's own bar for a face


def resolve_model(name: str, models_dir: Path = DEFAULT_MODELS_DIR) -> Path:
    if name == "own":
        return model_path("emotion", models_dir)
    if name == "fer":
        return model_path("emotion_fer", models_dir)
    return Path(name)


def realign(faces: np.ndarray, models_dir: Path = DEFAULT_MODELS_DIR) -> tuple[np.ndarray, int]:
    """Every face re-cut by the pipeline's alignment from its own landmarks; (faces, how many were re-cut)."""
    mesh = FaceMesh(Model(model_path("face_landmarks", models_dir)), Normaliser())
    out = faces.copy()
    aligned = 0
    for i, face in enumerate(faces):
        found = landmarks_in_fer_face(mesh, face)
        if found.presence >= MIN_PRESENCE:
            out[i] = align_face(face, found.points)
            aligned += 1
    return out, aligned


def _rate(hits: int, total: int) -> float | None:
    return round(hits / total, 4) if total else None


def evaluate(model_file: Path, faces: np.ndarray, labels: np.ndarray,
             classes: tuple[str, ...] = EMOTION_LABELS) -> dict[str, Any]:
    """`labels` index into `classes`; the model's own classes (EMOTION_LABELS) are scored under their names in
    `classes` (FER-2013 names mapped to FER+ ones when `classes` is FER+'s)."""
    classifier = EmotionClassifier(Model(model_file, num_threads=1))
    scores = np.empty((len(faces), len(EMOTION_LABELS)))
    started = time.perf_counter()
    for i, face in enumerate(faces):
        scores[i] = classifier.scores(face)
    ms_per_face = (time.perf_counter() - started) / len(faces) * 1000.0
    as_class = [classes.index(name if name in classes else FER2013_TO_FERPLUS[name]) for name in EMOTION_LABELS]
    predicted = np.array(as_class)[scores.argmax(axis=1)]
    confusion = np.zeros((len(classes), len(classes)), np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    recall = {label: _rate(int(confusion[k, k]), int(confusion[k].sum())) for k, label in enumerate(classes)}
    present = [r for r in recall.values() if r is not None]
    return {
        "n": len(faces),
        "accuracy": _rate(int(np.trace(confusion)), len(faces)),
        "uar": round(float(np.mean(present)), 4) if present else None,
        "per_class_recall": recall,
        "confusion": confusion.tolist(),
        "labels": list(classes),
        "ms_per_face": round(ms_per_face, 4),
        "model": model_file.name,
        "model_bytes": model_file.stat().st_size,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--labels", type=Path, help="a file,label CSV of FER+ class names (files relative to --data)")
    parser.add_argument("--model", default="own", help="own, fer, or a .tflite path")
    parser.add_argument("--align", choices=("none", "landmarks"), default="none")
    args = parser.parse_args()
    try:
        if args.labels is not None:
            faces, labels, _ = load_labelled(args.data, args.labels)
            classes = FERPLUS_LABELS
        else:
            faces, labels, _ = load_folder(args.data)
            classes = EMOTION_LABELS
        model_file = resolve_model(args.model)
    except (FileNotFoundError, ValueError, KeyError, ModelMissing, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    aligned = None
    if args.align == "landmarks":
        faces, aligned = realign(faces)
    metrics = evaluate(model_file, faces, labels, classes)
    metrics["align"] = args.align
    metrics["label_set"] = "ferplus" if args.labels is not None else "fer2013"
    if aligned is not None:
        metrics["aligned_fraction"] = round(aligned / len(faces), 4)
    print(f"{metrics['n']} faces, {model_file.name}: accuracy {metrics['accuracy']:.4f}, uar {metrics['uar']:.4f}, "
          f"{metrics['ms_per_face']:.3f} ms per face")
    print("  recall: " + ", ".join(f"{k} {v}" for k, v in metrics["per_class_recall"].items()))
    print(json.dumps(metrics))
    return 0


if __name__ == "__main__":
    sys.exit(main())

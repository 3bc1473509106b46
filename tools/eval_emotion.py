#!/usr/bin/env python3
"""Score an emotion model on FER+ labels (a file,label CSV) or on a folder laid out like FER-2013.

    .venv/bin/python tools/eval_emotion.py --data DIR [--labels CSV] [--model own|fer|PATH] [--baseline fer|PATH]
                                           [--align landmarks] [--gamma G] [--contrast C] [--no-equalise]

`--model own` (the default) is models/emotion.tflite, `fer` the fer package's model (the baseline), or a .tflite
path (eight outputs: FER+'s classes; seven: FER-2013's). `--labels CSV` scores the faces a `file,label` CSV names
(files relative to DIR, labels FER+ class names: neutral, happiness, surprise, sadness, anger, disgust, fear,
contempt), over those eight classes: a 7-class model never says contempt, so every contempt face counts against
it. Without `--labels`, DIR is a FER-2013 folder (`<class>/<image>`, 48x48 gray faces) scored over its seven
classes: a model's top class among those seven is its answer.
`--align landmarks` re-cuts every face the way the pipeline cuts it from a camera frame: FaceMesh on the face, then
edge.vision.face_align (faces where FaceMesh finds none are scored as they are, and counted).
`--gamma G` and `--contrast C` give every face another exposure (x -> 255 (x/255)^G, then C times the contrast about
mid-gray), as a camera unlike the dataset's would; `--no-equalise` skips the histogram equalisation in
edge.vision.emotion.prepare_face. Together they measure what equalising live crops buys.
`--baseline fer` scores a second model on the very same faces in the same run (the fer package's model is the
named baseline).
Prints a summary, then as its last line one JSON object: accuracy, uar (mean per-class recall), per_class_recall,
confusion (rows true, columns predicted, in the order of `labels`), ms_per_face (preparation + invoke, one thread),
and with --baseline the same metrics of the baseline under `baseline`.
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
from fer2013 import FER2013_CLASSES, load_folder, load_labelled  # noqa: E402

from edge.config import DEFAULT_MODELS_DIR  # noqa: E402
from edge.models import ModelMissing, load_manifest, model_path  # noqa: E402
from edge.runtime import Model  # noqa: E402
from edge.types import EMOTION_LABELS  # noqa: E402
from edge.vision.emotion import EMOTION_MODELS, FER2013_TO_FERPLUS, EmotionClassifier  # noqa: E402
from edge.vision.face_align import align_face, landmarks_in_fer_face  # noqa: E402
from edge.vision.landmarks import FaceMesh  # noqa: E402
from edge.vision.preprocess import Normaliser  # noqa: E402

MIN_PRESENCE = 0.5  # the pipeline's own bar for a face


def resolve_model(name: str, models_dir: Path = DEFAULT_MODELS_DIR) -> Path:
    if name in EMOTION_MODELS:
        return model_path(EMOTION_MODELS[name], models_dir)
    return Path(name)


def model_classes(model_file: Path, models_dir: Path = DEFAULT_MODELS_DIR) -> tuple[str, ...]:
    """The model's output classes: its manifest entry's labels, or for a loose file its output width's."""
    for entry in load_manifest(models_dir).values():
        if entry.file == model_file.name and entry.labels:
            return entry.labels
    width = Model(model_file).outputs[0].shape[-1]
    return EMOTION_LABELS if width == len(EMOTION_LABELS) else tuple(FER2013_TO_FERPLUS)


def exposed(faces: np.ndarray, gamma: float, contrast: float) -> np.ndarray:
    """The faces under another camera's tone curve: gamma, then contrast scaled about mid-gray."""
    x = np.power(faces / 255.0, gamma)
    return np.clip(np.rint((0.5 + contrast * (x - 0.5)) * 255.0), 0, 255).astype(np.uint8)


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


def evaluate(model_file: Path, faces: np.ndarray, labels: np.ndarray, classes: tuple[str, ...] = EMOTION_LABELS,
             equalise: bool = True, model_labels: tuple[str, ...] | None = None) -> dict[str, Any]:
    """`labels` index into EMOTION_LABELS; the metrics are over `classes` (those the labels can be), and a model's
    answer is its top class among them. `model_labels`: the model's classes when its manifest entry does not say
    them yet (a model just trained)."""
    classifier = EmotionClassifier(Model(model_file, num_threads=1), model_labels or model_classes(model_file),
                                   equalise)
    scores = np.empty((len(faces), len(EMOTION_LABELS)))
    started = time.perf_counter()
    for i, face in enumerate(faces):
        scores[i] = classifier.scores(face)
    ms_per_face = (time.perf_counter() - started) / len(faces) * 1000.0
    columns = [EMOTION_LABELS.index(c) for c in classes]
    predicted = scores[:, columns].argmax(axis=1)
    truth = np.array([columns.index(k) for k in labels], np.int64)
    confusion = np.zeros((len(classes), len(classes)), np.int64)
    np.add.at(confusion, (truth, predicted), 1)
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
    parser.add_argument("--baseline", help="a second model (fer, own or a .tflite path) scored on the same faces")
    parser.add_argument("--align", choices=("none", "landmarks"), default="none")
    parser.add_argument("--gamma", type=float, default=1.0, help="tone curve exponent applied to every face")
    parser.add_argument("--contrast", type=float, default=1.0, help="contrast factor about mid-gray")
    parser.add_argument("--no-equalise", dest="equalise", action="store_false",
                        help="skip the histogram equalisation of the project's model's preparation")
    args = parser.parse_args()
    try:
        if args.labels is not None:
            faces, labels, _ = load_labelled(args.data, args.labels)
            classes = EMOTION_LABELS
        else:
            faces, labels, _ = load_folder(args.data)
            classes = FER2013_CLASSES
        model_file = resolve_model(args.model)
        baseline_file = resolve_model(args.baseline) if args.baseline else None
    except (FileNotFoundError, ValueError, KeyError, ModelMissing, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    aligned = None
    if args.align == "landmarks":
        faces, aligned = realign(faces)
    if (args.gamma, args.contrast) != (1.0, 1.0):
        faces = exposed(faces, args.gamma, args.contrast)
    metrics = evaluate(model_file, faces, labels, classes, args.equalise)
    metrics |= {"align": args.align, "label_set": "ferplus" if args.labels is not None else "fer2013",
                "gamma": args.gamma, "contrast": args.contrast, "equalise": args.equalise}
    if aligned is not None:
        metrics["aligned_fraction"] = round(aligned / len(faces), 4)
    shown = [metrics]
    if baseline_file is not None:
        metrics["baseline"] = evaluate(baseline_file, faces, labels, classes, args.equalise)
        shown.append(metrics["baseline"])
    for m in shown:
        print(f"{m['n']} faces, {m['model']}: accuracy {m['accuracy']:.4f}, uar {m['uar']:.4f}, "
              f"{m['ms_per_face']:.3f} ms per face")
        print("  recall: " + ", ".join(f"{k} {v}" for k, v in m["per_class_recall"].items()))
    print(json.dumps(metrics))
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Score the stress model on any folder laid out like drivedb/csv_framerate (driveNN.csv.gz and segments.csv).

    .venv/bin/python tools/eval_stress.py --data DIR [--model models/stress.tflite] [--drives drive11,drive12,drive13]
                                          [--baseline]

Every drive goes through the live stage's measures and baseline (tools/stress_data.py: 60 s windows every 5 s, the
driver's first 5 minutes as the baseline); the windows that lie inside a labelled segment once the baseline is
complete are scored (rest = low, highway = medium, city = high). Prints a summary, then as its last line one JSON
object: n, accuracy (3 levels), balanced_accuracy (mean recall), binary_accuracy (rest versus driving),
per_class_recall, confusion (rows true, columns predicted), per_drive, and `smoothed`: the same after the
exponential smoothing the pipeline's fusion applies (fusion.stress_tau_s, 30 s), and ms_per_window (measures,
features and the model).

`--baseline` scores the named simple baseline in the same run on the same windows: logistic regression
(tools/stress_baseline.py) fitted, for each scored drive, on every other drive of DIR and never on that one
(leave one driver out), printed beside the model per driver and added to the JSON as `baseline`. The shipped model
was trained on the drives not in its card's test split: only its test drives are unseen by it.
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

import numpy as np
from stress_baseline import logistic_held_out, per_driver_table
from stress_data import HOP_S, DriveFeatures, drive_features, load_drives

from edge.config import FusionConfig
from edge.names import STRESS_LEVELS
from edge.physio.stress import StressModel


def smooth(probabilities: np.ndarray, tau_s: float, hop_s: float = HOP_S) -> np.ndarray:
    """The fusion's exponential filter over consecutive windows."""
    alpha = 1.0 - np.exp(-hop_s / tau_s)
    out = np.array(probabilities, dtype=np.float64)
    for i in range(1, len(out)):
        out[i] = out[i - 1] + alpha * (out[i] - out[i - 1])
    return out


def score(y: np.ndarray, pred: np.ndarray, drives: np.ndarray) -> dict[str, Any]:
    """Accuracy, mean recall, rest-versus-driving accuracy, recall per level, confusion, and accuracy per drive."""
    k = len(STRESS_LEVELS)
    confusion = np.zeros((k, k), dtype=int)
    np.add.at(confusion, (y, pred), 1)
    recall = {STRESS_LEVELS[i]: round(float(confusion[i, i] / confusion[i].sum()), 4)
              for i in range(k) if confusion[i].sum()}
    return {
        "n": int(len(y)),
        "accuracy": round(float(np.mean(y == pred)), 4) if len(y) else None,
        "balanced_accuracy": round(float(np.mean(list(recall.values()))), 4) if recall else None,
        "binary_accuracy": round(float(np.mean((y > 0) == (pred > 0))), 4) if len(y) else None,
        "per_class_recall": recall,
        "confusion": confusion.tolist(),
        "per_drive": {d: round(float(np.mean(y[drives == d] == pred[drives == d])), 4) for d in sorted(set(drives))},
    }


def predict(model: StressModel, features: list[DriveFeatures]) -> list[np.ndarray]:
    """Probabilities for every window the model would be asked about (NaN rows before the baseline)."""
    out = []
    for f in features:
        p = np.full((len(f.t), len(STRESS_LEVELS)), np.nan)
        for i in np.flatnonzero(f.ready):
            p[i] = [model.predict(f.x[i])[level] for level in STRESS_LEVELS]
        out.append(p)
    return out


def evaluate(features: list[DriveFeatures], probabilities: list[np.ndarray], tau_s: float) -> dict[str, Any]:
    ys, raw, smoothed, names = [], [], [], []
    for f, p in zip(features, probabilities):
        ready = np.flatnonzero(f.ready)
        s = np.full_like(p, np.nan)
        if len(ready):
            s[ready] = smooth(p[ready], tau_s)
        scored = f.ready & (f.y >= 0)
        ys.append(f.y[scored])
        raw.append(p[scored].argmax(axis=1))
        smoothed.append(s[scored].argmax(axis=1))
        names += [f.name] * int(scored.sum())
    y, names_a = np.concatenate(ys).astype(int), np.asarray(names)
    result = score(y, np.concatenate(raw).astype(int), names_a)
    result["smoothed"] = {"tau_s": tau_s, **score(y, np.concatenate(smoothed).astype(int), names_a)}
    return result


def baseline_probabilities(scored: list[DriveFeatures], pool: list[DriveFeatures], seed: int = 7) -> list[np.ndarray]:
    """The logistic baseline's probabilities for each scored drive, fitted on every other drive of `pool`."""
    return [logistic_held_out([f for f in pool if f.name != held_out.name], held_out, seed) for held_out in scored]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="a folder like drivedb/csv_framerate")
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "stress.tflite")
    parser.add_argument("--drives", help="comma-separated drive names (drive17 = drive17a+b); default: all")
    parser.add_argument("--gsr", choices=("foot", "hand"), help="GSR channel; default: the model's (manifest)")
    parser.add_argument("--baseline", action="store_true",
                        help="also score logistic regression fitted on the folder's other drives (needs scikit-learn)")
    args = parser.parse_args()
    if not (args.data / "segments.csv").is_file():
        print(f"error: {args.data} has no segments.csv (expected a folder like drivedb/csv_framerate)",
              file=sys.stderr)
        return 2
    from edge.config import tomllib

    entry = tomllib.loads((args.model.parent / "manifest.toml").read_text(encoding="utf-8"))["models"]["stress"]
    model = StressModel.load(args.model.parent)
    names = args.drives.split(",") if args.drives else None
    gsr = args.gsr or entry.get("gsr_channel", "foot")
    drives = load_drives(args.data, gsr, names)
    if not drives:
        print(f"error: no drive with segments in {args.data}" + (f" among {args.drives}" if names else ""),
              file=sys.stderr)
        return 2
    started = time.perf_counter()
    features = [drive_features(d, float(entry["baseline_s"])) for d in drives]
    probabilities = predict(model, features)
    windows = sum(len(f.t) for f in features)
    result = evaluate(features, probabilities, FusionConfig().stress_tau_s)
    result["ms_per_window"] = round((time.perf_counter() - started) * 1000.0 / max(1, windows), 3)
    result["drives"] = [d.name for d in drives]
    report("model", result)
    if args.baseline:
        scored = {f.name for f in features}
        others = [drive_features(d, float(entry["baseline_s"])) for d in load_drives(args.data, gsr)
                  if d.name not in scored]
        pool = features + others
        if len(pool) < 2:
            print("error: --baseline needs at least two drives in the folder", file=sys.stderr)
            return 2
        result["baseline"] = evaluate(features, baseline_probabilities(features, pool), FusionConfig().stress_tau_s)
        report("baseline (logistic regression, leave one driver out)", result["baseline"])
        print(per_driver_table({"model": result, "logistic": result["baseline"]}))
    print(json.dumps(result))
    return 0


def report(name: str, r: dict[str, Any]) -> None:
    s = r["smoothed"]
    print(f"{name}: {r['n']} windows, accuracy {r['accuracy']}, balanced {r['balanced_accuracy']}, rest vs driving "
          f"{r['binary_accuracy']}; smoothed (tau {s['tau_s']} s) {s['accuracy']} / {s['balanced_accuracy']} / "
          f"{s['binary_accuracy']}")


if __name__ == "__main__":
    sys.exit(main())

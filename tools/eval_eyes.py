#!/usr/bin/env python3
"""Score the eye-state model on any folder laid out like MRL eyes (open/, closed/, MRL file names).

    .venv/bin/python tools/eval_eyes.py --data DIR [--model models/eye_state.tflite] [--threshold 0.5]

Prints a summary, then as its last line one JSON object: accuracy, recall_open, recall_closed, confusion,
per_condition (glasses, reflections, lighting, sensor), ms_per_eye (preprocessing + invoke, one thread).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from mrl import EyeSample, list_samples, load_gray  # noqa: E402

from edge.runtime import Model  # noqa: E402
from edge.vision.eyes import prepare_eye  # noqa: E402


def _rate(hits: int, total: int) -> float | None:
    return round(hits / total, 4) if total else None


def evaluate(model_file: Path, samples: list[EyeSample], threshold: float = 0.5) -> dict[str, Any]:
    model = Model(model_file, num_threads=1)
    images = [load_gray(s) for s in samples]
    probs = np.empty(len(samples))
    started = time.perf_counter()
    for i, image in enumerate(images):
        probs[i] = model.run(prepare_eye(image)[None])[0].reshape(-1)[0]
    ms_per_eye = (time.perf_counter() - started) / len(samples) * 1000.0

    closed = np.array([s.closed for s in samples])
    predicted = probs >= threshold
    correct = predicted == closed
    groups: dict[str, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
    for sample, ok in zip(samples, correct):
        for condition, value in sample.conditions().items():
            groups[condition][value].append(bool(ok))
    per_condition = {
        condition: {value: {"accuracy": _rate(sum(v), len(v)), "n": len(v)} for value, v in sorted(values.items())}
        for condition, values in groups.items()
    }
    return {
        "n": len(samples),
        "accuracy": _rate(int(correct.sum()), len(samples)),
        "recall_open": _rate(int((~predicted & ~closed).sum()), int((~closed).sum())),
        "recall_closed": _rate(int((predicted & closed).sum()), int(closed.sum())),
        # rows: true open, true closed; columns: predicted open, predicted closed
        "confusion": [
            [int((~closed & ~predicted).sum()), int((~closed & predicted).sum())],
            [int((closed & ~predicted).sum()), int((closed & predicted).sum())],
        ],
        "per_condition": per_condition,
        "ms_per_eye": round(ms_per_eye, 4),
        "threshold": threshold,
        "model_bytes": model_file.stat().st_size,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "eye_state.tflite")
    parser.add_argument("--threshold", type=float, default=0.5)
    args = parser.parse_args()
    try:
        samples = list_samples(args.data)
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    metrics = evaluate(args.model, samples, args.threshold)
    print(f"{metrics['n']} eyes: accuracy {metrics['accuracy']:.4f} (open recall {metrics['recall_open']}, "
          f"closed recall {metrics['recall_closed']}), {metrics['ms_per_eye']:.3f} ms per eye")
    for condition, values in metrics["per_condition"].items():
        print(f"  {condition}: " + ", ".join(f"{k} {v['accuracy']} (n={v['n']})" for k, v in values.items()))
    print(json.dumps(metrics))
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Train the stress model on drivedb; export models/stress.tflite (full int8) with its card and manifest entry.

    .venv-train/bin/python tools/train_stress.py [--data ../shared/datasets/drivedb/csv_framerate] [--seed 7]
    .venv-train/bin/python tools/train_stress.py --baseline-only   # the linear baseline's CV alone; writes nothing

Windows, measures and baseline are the live stage's (tools/stress_data.py). Evaluation is by held-out drivers:
a leave-one-driver-out cross-validation over all ten (the card's CV numbers), and the shipped model is trained on
seven and scored on TEST_DRIVES, never used in training or in any choice. Classes are balanced by resampling
(highway is the smallest); whole modalities are dropped at random so the model works from ECG or GSR alone.

The same run cross-validates a named simple baseline on the same folds, windows and features: multinomial
logistic regression on standardised features with class-balanced weights (scikit-learn, the `train` extra). The
card shows both, with a per-driver table, so the MLP is only credited with what it adds over a linear model.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np
from eval_stress import evaluate, predict
from model_card import git_commit, manifest_beside, pct, shown, update_manifest
from stress_baseline import logistic_held_out, per_driver_table, training_rows, window_probabilities
from stress_data import HOP_S, WINDOW_S, DriveFeatures, drive_features, load_drives
from tflite_int8 import convert_int8

from edge.config import FusionConfig
from edge.names import STRESS_LEVELS
from edge.physio.features import FEATURE_NAMES, HEART_FEATURES, SKIN_FEATURES
from edge.physio.stress import StressModel
from edge.runtime import Model

TEST_DRIVES = ("drive11", "drive12", "drive13")  # fixed before any training: the last three complete protocols
BASELINE_S = 300.0
GSR_CHANNEL = "foot"  # present in every drive (hand GSR is missing in drive02 and drive13); CV: see the card
HIDDEN = 32
EPOCHS = 80
DROP_MODALITY = 0.15  # each training row loses its heart (or skin) features with this probability
HEART_COLUMNS = [FEATURE_NAMES.index(n) for n in (*HEART_FEATURES, "has_ecg")]
SKIN_COLUMNS = [FEATURE_NAMES.index(n) for n in (*SKIN_FEATURES, "has_eda")]


def default_data() -> Path:
    return Path(os.environ.get("DMS_DATASETS", ROOT.parent / "shared" / "datasets")) / "drivedb" / "csv_framerate"


def feature_scale(x: np.ndarray) -> np.ndarray:
    """Per feature the 99th percentile of |x|: inputs land near [-1, 1], where int8 steps are fine."""
    scale = np.percentile(np.abs(x), 99, axis=0)
    return np.where(scale > 1e-3, scale, 1.0)


def balanced_with_dropout(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Every class resampled to the largest's count; rows lose a whole modality with DROP_MODALITY each."""
    n = np.bincount(y, minlength=len(STRESS_LEVELS)).max()
    idx = np.concatenate([rng.choice(np.flatnonzero(y == c), n) for c in range(len(STRESS_LEVELS))])
    xb, yb = x[idx].copy(), y[idx]
    has_both = (xb[:, FEATURE_NAMES.index("has_ecg")] > 0) & (xb[:, FEATURE_NAMES.index("has_eda")] > 0)
    u = rng.random(len(xb))
    xb[np.ix_(has_both & (u < DROP_MODALITY), HEART_COLUMNS)] = 0.0
    xb[np.ix_(has_both & (u >= DROP_MODALITY) & (u < 2 * DROP_MODALITY), SKIN_COLUMNS)] = 0.0
    return xb, yb


def fit(tf: Any, x: np.ndarray, y: np.ndarray, scale: np.ndarray, seed: int) -> Any:
    tf.keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    xb, yb = balanced_with_dropout(x, y, rng)
    model = tf.keras.Sequential([
        tf.keras.Input((len(FEATURE_NAMES),)),
        tf.keras.layers.Dense(HIDDEN, activation="relu", kernel_regularizer=tf.keras.regularizers.l2(1e-3)),
        tf.keras.layers.Dense(len(STRESS_LEVELS), activation="softmax"),
    ])
    model.compile(optimizer=tf.keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy")
    model.fit(xb / scale, yb, epochs=EPOCHS, batch_size=128, shuffle=True, verbose=0)
    return model


def keras_rows(model: Any, scale: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    return lambda x: model(np.asarray(x / scale, np.float32), training=False).numpy()


# fit on the training drivers' features, return the held-out drive's probabilities per window (NaN before baseline)
FitPredict = Callable[[list[DriveFeatures], DriveFeatures], np.ndarray]


def leave_one_driver_out(features: list[DriveFeatures], fit_predict: FitPredict, tau_s: float,
                         label: str = "CV") -> dict[str, Any]:
    """Leave one driver out over every drive; the held-out driver's windows are pooled and scored by `evaluate`."""
    probabilities = []
    for i, held_out in enumerate(features):
        probabilities.append(fit_predict([f for j, f in enumerate(features) if j != i], held_out))
        print(f"  {label} fold {held_out.name}: done", flush=True)
    return evaluate(features, probabilities, tau_s)


def cross_validate(tf: Any, features: list[DriveFeatures], seed: int, tau_s: float) -> dict[str, Any]:
    """The MLP, leave one driver out."""
    def fit_predict(train: list[DriveFeatures], held_out: DriveFeatures) -> np.ndarray:
        x, y = training_rows(train)
        scale = feature_scale(x)
        return window_probabilities(held_out, keras_rows(fit(tf, x, y, scale, seed), scale))

    return leave_one_driver_out(features, fit_predict, tau_s, "MLP CV")


def cross_validate_baseline(features: list[DriveFeatures], seed: int, tau_s: float) -> dict[str, Any]:
    """The logistic baseline, leave one driver out, on the same windows and features as the MLP."""
    def fit_predict(train: list[DriveFeatures], held_out: DriveFeatures) -> np.ndarray:
        return logistic_held_out(train, held_out, seed)

    return leave_one_driver_out(features, fit_predict, tau_s, "baseline CV")


def summary(name: str, r: dict[str, Any]) -> str:
    s = r["smoothed"]
    return (f"{name}: accuracy {r['accuracy']}, balanced {r['balanced_accuracy']}, rest vs driving "
            f"{r['binary_accuracy']}; smoothed {s['accuracy']} / {s['balanced_accuracy']} / {s['binary_accuracy']}")


def write_card_and_manifest(model_file: Path, info: dict[str, Any]) -> None:
    sha = hashlib.sha256(model_file.read_bytes()).hexdigest()
    test, cv, flt, lin = info["test"], info["cv"], info["float_test"], info["baseline_cv"]
    update_manifest(
        "stress",
        {
            "file": model_file.name,
            "sha256": sha,
            "licence": "Apache-2.0 (the project's own; trained on PhysioNet drivedb, ODC-By 1.0: cite Healey & "
                       "Picard 2005)",
            "input": f"1x{len(FEATURE_NAMES)} int8: edge.physio.features.feature_vector of a {WINDOW_S:.0f} s "
                     "window (heart and skin measures relative to the driver's baseline) divided by feature_scale",
            "output": "1x3 int8: probabilities of low, medium, high stress",
            "labels": list(STRESS_LEVELS),
            "card": "stress.md",
            "data": f"PhysioNet drivedb (Healey & Picard 2005), {shown(info['data'])}, labels from segments.csv",
            "split": f"by driver: test {', '.join(TEST_DRIVES)}; train the other {info['n_train_drives']}",
            "features": list(FEATURE_NAMES),
            "feature_scale": [float(s) for s in info["scale"]],
            "baseline_s": BASELINE_S,
            "window_s": WINDOW_S,
            "gsr_channel": GSR_CHANNEL,
            "test_accuracy": test["accuracy"],
            "test_balanced_accuracy": test["balanced_accuracy"],
            "test_binary_accuracy": test["binary_accuracy"],
        },
        manifest_beside(model_file),
    )

    def row(name: str, r: dict[str, Any]) -> str:
        rec = r["per_class_recall"]
        return (f"| {name} | {r['n']} | {pct(r['accuracy'])} | {pct(r['balanced_accuracy'])} | "
                f"{pct(r['binary_accuracy'])} | {pct(rec.get('low'))} | {pct(rec.get('medium'))} | "
                f"{pct(rec.get('high'))} |")

    per_drive = ", ".join(f"{k} {pct(v)}" for k, v in cv["per_drive"].items())
    card = f"""# stress.tflite: low, medium or high stress from a minute of heart and skin signals

Written by `tools/train_stress.py` on {date.today().isoformat()} (commit {git_commit()}, seed {info['seed']}).
Reproduce: `make train-stress`; score any folder like drivedb/csv_framerate with
`.venv/bin/python tools/eval_stress.py --data DIR [--drives {','.join(TEST_DRIVES)}] [--baseline]`.

## Model
- Input: {len(FEATURE_NAMES)} features of a {WINDOW_S:.0f} s window (`edge.physio.features`, the same code in
  training and in the car), each relative to the driver's own baseline (the median over the first
  {BASELINE_S:.0f} s of usable signal): heart rate (ratio − 1), log ratios of RMSSD, SDNN and the spread of
  beat-to-beat heart rate; log ratio of the skin conductance level, its slope and response amplitude over the
  baseline level, log ratio of responses per minute (+1), log ratio of the conductance spread; and two flags
  saying which signal the window has. A missing signal enters as zeros with its flag at 0.
- A multilayer perceptron, {len(FEATURE_NAMES)} → {HIDDEN} (ReLU) → 3 (softmax), L2 1e-3, {EPOCHS} epochs of
  Adam on class-balanced resamples; each row loses its heart or its skin features with probability
  {DROP_MODALITY} each, so either signal alone still gives an estimate.
- Full-integer int8 TFLite, {model_file.stat().st_size:,} bytes; sha256 `{sha}`. Features are divided by
  `feature_scale` (the manifest; 99th percentile of |x| in training) before quantisation.
- Output: P(low), P(medium), P(high); fusion takes P(high) as the physiological stress.

## Data and split
- PhysioNet drivedb (Healey & Picard, IEEE T-ITS 2005), {shown(info['data'])}: ten drivers on a fixed route
  (rest, city, highway, city, highway, city, rest). Labels from `segments.csv`: rest = low, highway = medium,
  city = high; {WINDOW_S:.0f} s windows every {HOP_S:.0f} s, labelled when wholly inside a segment; drive17a and
  17b (one driver) are joined; windows before the driver's baseline is complete are not scored.
- Heart beats are rebuilt from the recorder's beat-to-beat HR channel (the 15.5 Hz ECG is unusable for R-peaks);
  GSR channel: {GSR_CHANNEL} (every drive has it; hand GSR is missing in two).
- Shipped model: trained on {info['n_train_drives']} drivers, tested on {', '.join(TEST_DRIVES)} (fixed before
  training). Cross-validation: leave one driver out over all ten, the held-out windows pooled.

## Results
| evaluation | windows | accuracy | balanced | rest vs driving | recall low | recall medium | recall high |
|---|---|---|---|---|---|---|---|
{row("test drivers, int8 (per window)", test)}
{row("test drivers, float before export", flt)}
{row("test drivers, int8, smoothed as fusion does", test["smoothed"])}
{row("leave-one-driver-out CV, float", cv)}
{row("leave-one-driver-out CV, smoothed", cv["smoothed"])}
{row("baseline (logistic regression), leave-one-driver-out CV", lin)}
{row("baseline (logistic regression), LODO CV, smoothed", lin["smoothed"])}

Per driver (CV): {per_drive}.

The baseline is multinomial logistic regression on the same {len(FEATURE_NAMES)} standardised features with
class-balanced weights, cross-validated in the same run on the same folds and windows (no modality dropout).
Accuracy per held-out driver, MLP beside baseline:

{per_driver_table({"MLP": cv, "logistic": lin})}

Targets (issue 18, leave one driver out): accuracy ≥ 78 %, balanced ≥ 72 %, rest versus driving ≥ 92 %, and above
the linear baseline in the same run. The MLP is above the baseline; all three targets are still short.

Personal features (`.venv-train/bin/python tools/stress_personal.py`, the same folds and recipes): ranking each
measure among the driver's own windows so far, instead of dividing it by the first 5 minutes' median, lifts the
logistic baseline from 65.60 % / 62.31 % / 84.29 % to 71.75 % / 66.57 % / 85.20 % (worst driver 45.31 % to
57.36 %) but not the MLP (71.44 % / 66.27 % / 85.94 %): with them the linear model equals the MLP, and neither
reaches the targets, so the shipped features stay. Also within 65-74 % in the same leave-one-driver-out
setting (a scratch study, not kept): running z-scores against the drive so far, 120 s and 180 s windows beside
or instead of 60 s ones, 3-5 minute trailing means, ranks over the last 20-45 minutes only, and leaving out any
one measure. City versus highway is what limits every variant (medium recall 44-51 %).

## Limits
- Ten drivers, one route, one city (Boston, 1999): the classes are the route's segments, not rated stress.
  City versus highway is the hard part: the highway recall is the weakest number.
- The baseline assumes the first {BASELINE_S / 60:.0f} minutes of signal are calm (drivedb starts with rest).
  A drive that starts in heavy traffic shifts every later estimate towards "low".
- HRV in training comes from the recorder's integer beat-to-beat rate, in the car from R-peaks. On the two drives
  with full-rate ECG (drive17a/b, raw_wfdb) our R-peaks and the HR channel agree over 1-minute windows: heart rate
  within 0-3 %, RMSSD and SDNN within 0-4 % (median ratio; correlation 0.84-0.97).
- GSR in training is foot GSR in the recorder's mV; in the car usually finger GSR in µS: only ratios to the
  driver's baseline enter the model.
"""
    (model_file.parent / "stress.md").write_text(card, encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=default_data())
    parser.add_argument("--out", type=Path, default=ROOT / "models" / "stress.tflite")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--baseline-only", action="store_true",
                        help="only the logistic baseline's leave-one-driver-out CV (no TensorFlow); writes nothing, "
                             "prints a per-driver table and, as its last line, the result as JSON")
    args = parser.parse_args()
    if not (args.data / "segments.csv").is_file():
        print(f"error: {args.data} has no segments.csv (expected drivedb/csv_framerate)", file=sys.stderr)
        return 2
    tau_s = FusionConfig().stress_tau_s
    if args.baseline_only:
        print("measuring windows ...", flush=True)
        features = [drive_features(d, BASELINE_S) for d in load_drives(args.data, GSR_CHANNEL)]
        lin = cross_validate_baseline(features, args.seed, tau_s)
        print(summary("baseline (logistic) LODO", lin))
        print(per_driver_table({"logistic": lin}))
        print(json.dumps({"model": "logistic regression", **lin}))
        return 0
    import tensorflow as tf

    # A model this small trains in seconds on one thread; deterministic ops make a rerun give the same bytes.
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.experimental.enable_op_determinism()
    print("measuring windows ...", flush=True)
    features = [drive_features(d, BASELINE_S) for d in load_drives(args.data, GSR_CHANNEL)]
    train = [f for f in features if f.name not in TEST_DRIVES]
    test = [f for f in features if f.name in TEST_DRIVES]
    cv = cross_validate(tf, features, args.seed, tau_s)
    baseline_cv = cross_validate_baseline(features, args.seed, tau_s)
    x, y = training_rows(train)
    scale = feature_scale(x)
    model = fit(tf, x, y, scale, args.seed)
    float_test = evaluate(test, [window_probabilities(f, keras_rows(model, scale)) for f in test], tau_s)
    calibration = (x / scale).astype(np.float32)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(convert_int8(tf, tf.lite.TFLiteConverter.from_keras_model(model), calibration))
    int8 = StressModel(Model(args.out), scale)
    test_result = evaluate(test, predict(int8, test), tau_s)
    print(f"test drivers int8: accuracy {test_result['accuracy']}, balanced {test_result['balanced_accuracy']}, "
          f"rest vs driving {test_result['binary_accuracy']} (float {float_test['accuracy']})")
    print(summary("MLP LODO CV, float", cv))
    print(summary("baseline (logistic) LODO CV", baseline_cv))
    print(per_driver_table({"MLP": cv, "logistic": baseline_cv}))
    write_card_and_manifest(args.out, {
        "seed": args.seed, "data": args.data, "scale": scale, "n_train_drives": len(train),
        "test": test_result, "float_test": float_test, "cv": cv, "baseline_cv": baseline_cv,
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())

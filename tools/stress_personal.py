#!/usr/bin/env python3
"""Study: do personal features let the stress MLP beat a linear model on drivers it has never seen?

    .venv-train/bin/python tools/stress_personal.py [--data ../shared/datasets/drivedb/csv_framerate] [--seed 7]

Two feature sets of the same windows (tools/stress_data.py), each cross-validated leave one driver out with the
shipped MLP recipe (train_stress.fit: class-balanced, modality dropout) and the logistic baseline
(stress_baseline.fit_logistic), all in one run on the same folds and scored windows:
- `start baseline`: the shipped features, each measure relative to the median of the driver's first 5 minutes;
- `own history`: each measure's rank among all of this driver's windows so far (a percentile minus 0.5, so -0.5
  to 0.5), a personal scale that also takes in how strongly this driver reacts, not only where they start.
  It has the same layout (the nine measures, then has_ecg and has_eda), so the same recipes train on it.
Prints one summary line per (features, model) and a per-driver table, then as the last line the results as JSON.
Writes nothing: it is the measurement behind the stress card's "Personal features" paragraph.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np
from stress_baseline import per_driver_table
from stress_data import Drive, DriveFeatures, drive_features, load_drives, windows
from train_stress import BASELINE_S, GSR_CHANNEL, cross_validate, cross_validate_baseline, default_data, summary

from edge.config import FusionConfig
from edge.physio.features import FEATURE_NAMES, WindowMeasures

MIN_HISTORY = int(BASELINE_S // 5)  # windows of a measure before its rank counts (the baseline's 5 minutes)


def measures(w: WindowMeasures) -> list[float]:
    """The nine measures of FEATURE_NAMES' order, on scales where a rank is meaningful (NaN where missing)."""
    h, s = w.heart, w.skin
    heart = [h.hr_bpm, h.rmssd_ms, h.sdnn_ms, h.hr_std_bpm] if h else [None] * 4
    skin = [s.eda.scl, s.eda.scl_slope, s.eda.scr_rate, s.eda.scr_amplitude, s.std] if s else [None] * 5
    return [np.nan if v is None else float(v) for v in (*heart, *skin)]


def own_history(drive: Drive, start_baseline: DriveFeatures) -> DriveFeatures:
    """Each window's measures ranked among the driver's windows so far; scored windows as the shipped features'."""
    m = np.array([measures(w) for w, _ in windows(drive)])
    x = np.zeros((len(m), len(FEATURE_NAMES)), dtype=np.float32)
    for j in range(m.shape[1]):
        v, seen = m[:, j], []
        for i in np.flatnonzero(np.isfinite(v)):
            seen.append(v[i])
            if len(seen) >= MIN_HISTORY:
                h = np.asarray(seen)
                x[i, j] = np.mean(h < v[i]) + 0.5 * np.mean(h == v[i]) - 0.5
    x[:, FEATURE_NAMES.index("has_ecg")] = np.isfinite(m[:, 0])
    x[:, FEATURE_NAMES.index("has_eda")] = np.isfinite(m[:, 4])
    f = start_baseline
    return DriveFeatures(f.name, f.t, x, f.y, f.ready)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=default_data())
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if not (args.data / "segments.csv").is_file():
        print(f"error: {args.data} has no segments.csv (expected drivedb/csv_framerate)", file=sys.stderr)
        return 2
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.experimental.enable_op_determinism()
    tau_s = FusionConfig().stress_tau_s
    print("measuring windows ...", flush=True)
    drives = load_drives(args.data, GSR_CHANNEL)
    start = [drive_features(d, BASELINE_S) for d in drives]
    sets = {"start baseline": start, "own history": [own_history(d, f) for d, f in zip(drives, start)]}
    results: dict[str, dict[str, Any]] = {}
    for name, features in sets.items():
        results[f"{name}, MLP"] = cross_validate(tf, features, args.seed, tau_s)
        results[f"{name}, logistic"] = cross_validate_baseline(features, args.seed, tau_s)
    for name, r in results.items():
        print(summary(name, r))
    print(per_driver_table(results))
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())

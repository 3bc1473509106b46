"""The stress model's named simple baseline and what both share to be compared fairly: training rows, per-window
probabilities of a float model, and the per-driver table. Used by train_stress.py (cross-validation beside the MLP),
eval_stress.py (`--baseline`, beside the shipped model) and stress_personal.py.

The baseline is multinomial logistic regression on the standardised features with class-balanced weights
(scikit-learn: the `train` and `dev` extras).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from model_card import pct
from stress_data import DriveFeatures

from edge.names import STRESS_LEVELS


def training_rows(features: list[DriveFeatures]) -> tuple[np.ndarray, np.ndarray]:
    """Every labelled window the model would have been asked about (the baseline complete), pooled."""
    x = np.concatenate([f.x[f.ready & (f.y >= 0)] for f in features])
    y = np.concatenate([f.y[f.ready & (f.y >= 0)] for f in features])
    return x, y


def window_probabilities(f: DriveFeatures, predict_rows: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """A float model's probabilities per window of a drive, as eval_stress.predict gives the int8 model's (NaN rows
    before the baseline): cross-validation needs no export per fold. `predict_rows`: feature rows → probabilities."""
    p = np.full((len(f.t), len(STRESS_LEVELS)), np.nan)
    if f.ready.any():
        p[f.ready] = predict_rows(f.x[f.ready])
    return p


def fit_logistic(x: np.ndarray, y: np.ndarray, seed: int) -> Any:
    """The baseline: multinomial logistic regression on standardised features, classes weighted to balance."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    # lbfgs fits the multinomial (softmax) loss for three classes
    model = make_pipeline(StandardScaler(), LogisticRegression(class_weight="balanced", max_iter=2000,
                                                               random_state=seed))
    return model.fit(x, y)


def logistic_held_out(train: list[DriveFeatures], held_out: DriveFeatures, seed: int) -> np.ndarray:
    """The baseline fitted on `train`, its probabilities per window of `held_out` (which must not be in `train`)."""
    assert all(f.name != held_out.name for f in train), f"{held_out.name} would be scored on its own windows"
    x, y = training_rows(train)
    return window_probabilities(held_out, fit_logistic(x, y, seed).predict_proba)


def per_driver_table(results: dict[str, dict[str, Any]]) -> str:
    """Markdown: one row per driver, accuracy (raw and smoothed) per model; the worst driver last."""
    names = list(results)
    drives = sorted({d for r in results.values() for d in r["per_drive"]})
    head = "| driver | " + " | ".join(f"{n} | {n} smoothed" for n in names) + " |"
    rows = [head, "|---|" + "---|" * (2 * len(names))]
    for d in drives:
        cells = " | ".join(f"{pct(r['per_drive'].get(d))} | {pct(r['smoothed']['per_drive'].get(d))}"
                           for r in results.values())
        rows.append(f"| {d} | {cells} |")
    worst = " | ".join(f"{pct(min(r['per_drive'].values()))} | {pct(min(r['smoothed']['per_drive'].values()))}"
                       for r in results.values())
    rows.append(f"| worst driver | {worst} |")
    return "\n".join(rows)

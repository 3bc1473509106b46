"""The project's int8 stress model: baseline-relative heart and skin features of a 60 s window in, probabilities of
low, medium and high stress out (drivedb: rest, highway, city). Trained by tools/train_stress.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge.names import STRESS_LEVELS
from edge.physio.features import FEATURE_NAMES
from edge.runtime import Model

MODEL_NAME = "stress"


class StressModel:
    def __init__(self, model: Model, feature_scale: np.ndarray | None = None):
        """feature_scale: divides each feature before the model (the manifest's; it brings them near [-1, 1] for
        int8 inputs); without it the features go in as they are."""
        if model.inputs[0].shape[-1] != len(FEATURE_NAMES):
            raise ValueError(f"{model.path.name}: input {model.inputs[0].shape}, expected (1, {len(FEATURE_NAMES)})")
        if model.outputs[0].shape[-1] != len(STRESS_LEVELS):
            raise ValueError(f"{model.path.name}: output {model.outputs[0].shape}, expected (1, {len(STRESS_LEVELS)})")
        self.model = model
        self.feature_scale = np.ones(len(FEATURE_NAMES)) if feature_scale is None else np.asarray(feature_scale)
        if self.feature_scale.shape != (len(FEATURE_NAMES),) or not np.all(self.feature_scale > 0):
            raise ValueError(f"feature_scale must be {len(FEATURE_NAMES)} positive numbers")

    @classmethod
    def load(cls, models_dir: Path, num_threads: int = 1, backend: str = "auto") -> StressModel:
        """The model of the manifest's [models.stress] entry, sha256-checked; refused when it was trained on other
        features than edge.physio.features.FEATURE_NAMES."""
        from edge.config import tomllib
        from edge.models import manifest_path, model_path

        entry = tomllib.loads(manifest_path(models_dir).read_text(encoding="utf-8"))["models"][MODEL_NAME]
        if tuple(entry.get("features", ())) != FEATURE_NAMES:
            raise ValueError(f"{MODEL_NAME} model: trained on features {entry.get('features')}, not "
                             f"{list(FEATURE_NAMES)}; retrain it (tools/train_stress.py)")
        model = Model(model_path(MODEL_NAME, models_dir), num_threads=num_threads, backend=backend)
        return cls(model, np.array(entry["feature_scale"], dtype=np.float64))

    def predict(self, features: np.ndarray) -> dict[str, float]:
        """features: edge.physio.features.feature_vector of one window."""
        x = (np.asarray(features, np.float64) / self.feature_scale).astype(np.float32)[None, :]
        p = np.clip(self.model.run(x)[0][0].astype(np.float64), 0.0, None)
        p = p / p.sum() if p.sum() > 0 else np.full(len(STRESS_LEVELS), 1.0 / len(STRESS_LEVELS))
        return {level: float(v) for level, v in zip(STRESS_LEVELS, p)}

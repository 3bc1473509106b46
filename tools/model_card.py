"""Model cards and manifest entries for the project's own models, written by their training tools: the shared
helpers, and the eye-state card (emotion_card.py has the emotion model's)."""

from __future__ import annotations

import hashlib
import re
import subprocess
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _toml_value(value: Any) -> str:
    """A TOML value: strings, booleans, numbers (floats to 6 significant digits), arrays of them, inline tables."""
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, (list, tuple, np.ndarray)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, (float, np.floating)):
        text = f"{float(value):.6g}"
        return text if any(c in text for c in ".en") else text + ".0"  # stays a float: 8000.0, not 8000
    return str(value)


def update_manifest(name: str, fields: dict[str, Any], manifest: Path) -> None:
    """Replace (or append) the `[models.<name>]` table, leaving every other entry as it is."""
    lines = [f"[models.{name}]"] + [f"{key} = {_toml_value(value)}" for key, value in fields.items()]
    block = "\n".join(lines) + "\n"
    text = manifest.read_text(encoding="utf-8")
    pattern = re.compile(rf"^\[models\.{re.escape(name)}\]\n(?:(?!\[).*\n?)*", re.MULTILINE)
    if pattern.search(text):
        text = pattern.sub(block + "\n", text, count=1).rstrip("\n") + "\n"
    else:
        text = text.rstrip("\n") + "\n\n" + block
    manifest.write_text(text, encoding="utf-8")


def manifest_beside(model_file: Path) -> Path:
    """The manifest beside the model (models/ unless the training tool's --out says otherwise)."""
    manifest = model_file.parent / "manifest.toml"
    if not manifest.is_file():
        manifest.write_text("", encoding="utf-8")
    return manifest


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def shown(path: Path) -> str:
    """A dataset path as the project sees it (../shared/...), not this machine's absolute path."""
    try:
        return "../" + Path(path).resolve().relative_to(ROOT.parent).as_posix()
    except ValueError:
        return str(path)


def pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x * 100:.2f} %"


def write_card_and_manifest(model_file: Path, **info: Any) -> None:
    m = info["metrics"]
    sha = hashlib.sha256(model_file.read_bytes()).hexdigest()
    manifest = manifest_beside(model_file)
    update_manifest(
        "eye_state",
        {
            "file": model_file.name,
            "sha256": sha,
            "licence": "Apache-2.0 (the project's own; trained on MRL Eye Dataset, academic use: cite Fusek 2018)",
            "input": "1x32x32x1 int8: a level gray eye crop, 1.7x the corner-to-corner width, standardised "
                     "per crop (edge.vision.eyes.prepare_eye)",
            "output": "1x1 int8: probability that the eye is closed",
            "labels": ["closed"],
            "card": "eye_state.md",
            "data": f"MRL Eye Dataset (Fusek, ISVC 2018), {shown(info['data'])}",
            "split": f"by subject, seed {info['seed']}: train {len(info['split']['train'])} subjects, "
                     f"val {', '.join(info['split']['val'])}, test {', '.join(info['split']['test'])}",
            "test_accuracy": m["accuracy"],
            "test_recall_open": m["recall_open"],
            "test_recall_closed": m["recall_closed"],
        },
        manifest,
    )
    rows = []
    for condition, values in m["per_condition"].items():
        for value, v in values.items():
            rows.append(f"| {condition} | {value} | {v['n']} | {pct(v['accuracy'])} |")
    (cm_oo, cm_oc), (cm_co, cm_cc) = m["confusion"]
    card = f"""# eye_state.tflite: eye-closed probability from a NIR eye crop

Written by `tools/train_eyes.py` on {date.today().isoformat()} (commit {git_commit()}, seed {info['seed']}).
Reproduce: `.venv-train/bin/python tools/train_eyes.py --seed {info['seed']}`; score any MRL-style folder with
`tools/eval_eyes.py --data DIR`.

## Model
- A small CNN: 3x3 convolutions with batch norm and ReLU: 16 filters at 32x32, two of 32 at 16x16, two of 64 at
  8x8 and one of 128 at 4x4 (the first of each stage strided), global average pooling, dropout, one sigmoid output;
  {info['params']:,} parameters.
- Full-integer int8 TFLite (int8 input and output), {model_file.stat().st_size:,} bytes; sha256 `{sha}`.
- Input: 32x32 gray eye crop, level, centred between the eye corners, side 1.7x the corner distance, standardised
  per crop (mean 0, std 1, clipped to ±3), as `edge.vision.eyes.prepare_eye` does in training and inference.
- Output: P(closed); the pipeline combines it with the eye aspect ratio against the driver's own baseline.

## Data and split
- MRL Eye Dataset (Fusek, ISVC 2018): near-infrared eye crops, {shown(info['data'])}.
- Split by subject, seeded: no subject on two sides.
  - train: {info['counts']['train']} crops from {len(info['split']['train'])} subjects
  - validation (epoch selection): {info['counts']['val']} crops from {', '.join(info['split']['val'])}
  - test (reported below, never seen in training or selection): {info['counts']['test']} crops from
    {', '.join(info['split']['test'])}
- Augmentation: crop jitter (±8 % shift, 0.85-1.15 scale, ±15° roll), mirroring, gamma 0.5-2.0, gain and offset,
  mild blur and sensor noise. {info['epochs']} epochs, Adam with cosine decay; best validation epoch
  {info['best_epoch']} (validation accuracy {pct(info['val_accuracy'])}).

## Results on the test subjects (int8 model, threshold 0.5)
| metric | value |
|---|---|
| accuracy | {pct(m['accuracy'])} |
| accuracy of the float model before int8 export | {pct(info['float_test_accuracy'])} |
| recall, open | {pct(m['recall_open'])} |
| recall, closed | {pct(m['recall_closed'])} |
| confusion (rows true open/closed, columns predicted open/closed) | {cm_oo} / {cm_oc}; {cm_co} / {cm_cc} |
| time per eye (preprocessing + invoke, 1 thread, this machine) | {m['ms_per_eye']:.3f} ms |

Per condition:

| condition | value | n | accuracy |
|---|---|---|---|
{chr(10).join(rows)}

## Limits
- Six test subjects: per-condition figures with small n are rough.
- MRL crops are cut by hand around the eye; the pipeline cuts them from landmarks, with more jitter. The crop
  augmentation covers some of that; the replay tests check it on real video.
- Sunglasses are not in MRL: an eye behind dark glasses is flagged not visible by the pipeline (low crop contrast
  and the landmark score), never judged closed by this model.
"""
    (model_file.parent / "eye_state.md").write_text(card, encoding="utf-8")

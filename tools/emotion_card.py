"""The emotion model's card (models/emotion.md) and manifest entry, written by train_emotion.py."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path
from typing import Any

from model_card import git_commit, manifest_beside, pct, shown, update_manifest

from edge.types import EMOTION_LABELS


def _baseline(b: dict[str, Any] | None) -> str:
    if b is None:
        return "not fetched (`dms models fetch`)"
    return (f"{pct(b['accuracy'])} accuracy, {pct(b['uar'])} UAR (contempt recall "
            f"{pct(b['per_class_recall']['contempt'])}: its seven classes have none)")


def write_card_and_manifest(model_file: Path, **info: Any) -> None:
    m = info["metrics"]
    sha = hashlib.sha256(model_file.read_bytes()).hexdigest()
    update_manifest(
        "emotion",
        {
            "file": model_file.name,
            "sha256": sha,
            "licence": "Apache-2.0 (the project's own; trained on FER-2013 faces with FER+ labels, research use: cite "
                       "Goodfellow et al. 2013, Barsoum et al. 2016)",
            "input": "1x44x44x1 int8: the centre of a 48x48 gray face in FER-2013 framing (edge.vision.face_align), "
                     "histogram-equalised and standardised per face (edge.vision.emotion.prepare_face)",
            "output": f"1x{len(EMOTION_LABELS)} int8: class probabilities",
            "labels": list(EMOTION_LABELS),
            "card": "emotion.md",
            "data": f"FER-2013 faces (Goodfellow et al. 2013) with FER+ labels (Barsoum et al. 2016), "
                    f"{shown(info['data'])}",
            "split": f"train/ (less faces duplicated in val/) minus a stratified selection part (seed {info['seed']}); "
                     "test: val/ (PublicTest) FER+ majority labels",
            "test_accuracy": m["accuracy"],
            "test_uar": m["uar"],
        },
        manifest_beside(model_file),
    )
    recall_rows = "\n".join(f"| {k} | {pct(v)} |" for k, v in m["per_class_recall"].items())
    header = " | ".join(EMOTION_LABELS)
    confusion_rows = "\n".join(
        f"| **{label}** | " + " | ".join(map(str, row)) + " |" for label, row in zip(EMOTION_LABELS, m["confusion"])
    )
    exposure_rows = "\n".join(
        f"| {name} | {pct(e['accuracy'])} |" for name, e in info["exposures"].items()
    )
    gap = abs(info["float_test_accuracy"] - m["accuracy"])
    contempt_faces = sum(m["confusion"][EMOTION_LABELS.index("contempt")])
    c = info["counts"]
    card = f"""# emotion.tflite: eight facial emotions (FER+) from a face in FER-2013 framing

Written by `tools/train_emotion.py` on {date.today().isoformat()} (commit {git_commit()}, seed {info['seed']}).
Reproduce: `make train-emotion` (or `.venv-train/bin/python tools/train_emotion.py --seed {info['seed']}`; `--resume`
carries on an interrupted run). Score it and the baseline on FER+ labels with `tools/eval_emotion.py --data
fer2013 --labels CSV --baseline fer`, the CSV being the `val/` rows of `ferplus_labels.csv` as `file,label`.

## Model
- VGG-style CNN: two 3x3 convolutions (batch norm, ReLU) per stage with 32, 64, 128 and 192 filters at 44, 22, 11
  and 5 px, max pooling between, global average pooling, dropout 0.4, {len(EMOTION_LABELS)} outputs with softmax;
  {info['params']:,} parameters.
- Full-integer int8 TFLite (int8 input and output), {model_file.stat().st_size:,} bytes; sha256 `{sha}`.
- Input: a 48x48 gray face in FER-2013's framing, histogram-equalised (as every training face was by the dataset's
  source), its centre 44x44 standardised (mean 0, std 1, clipped to ±3), by `edge.vision.emotion.prepare_face` in
  training and inference. In the car the face is cut from the frame by `edge.vision.face_align`: a similarity
  transform of FaceMesh's eye corners, nose and face sides onto where FER-2013 puts them (`tools/fer_template.py`).
- Output: probabilities for {', '.join(EMOTION_LABELS)} (FER+'s classes and order).

## Data and split
- Faces: FER-2013 (Goodfellow et al., 2013), 48x48 gray web images, {shown(info['data'])}. Labels: FER+ (Barsoum et
  al., 2016), ten annotators per face, from `ferplus_labels.csv`; faces FER+ calls unknown or not a face have no
  label and are not used.
- Target: the annotators' vote distribution over the eight classes (a class with a single vote dropped as noise
  when another has more), with cross-entropy; Barsoum et al. found this better than the majority label.
- `train/`, less the faces whose pixels also sit in `val/`, split stratified by majority label and seeded:
  {c['train']:,} faces to train on and {c['selection']:,} to select the epoch.
- Test: `val/` (the official PublicTest split) with its FER+ majority label, {c['test']:,} faces, used for neither
  training nor selection: every number below is from it.
- Augmentation for a NIR cabin camera: shift (±2 px), scale (0.9-1.1) and roll (±15°) for alignment error, mirror,
  gamma 0.6-1.6 and gain with clipping, blur, sensor noise, random erasing (occlusion); then the same equalisation
  as inference. AdamW (weight decay 0.05) with a one-epoch warm-up and cosine decay, {info['epochs']} epochs; best
  selection epoch {info['best_epoch'] or 'n/a'} (selection accuracy {pct(info['selection_accuracy'])}).

## Results on the test faces (int8 model)
| metric | value |
|---|---|
| accuracy (8 classes, FER+ majority label) | {pct(m['accuracy'])} |
| accuracy of the float model before int8 export | {pct(info['float_test_accuracy'])} ({gap * 100:.2f} points apart) |
| mean per-class recall (UAR) | {pct(m['uar'])} |
| contempt recall | {pct(m['per_class_recall']['contempt'])} ({contempt_faces} faces) |
| accuracy through the pipeline's alignment (note 1) | {pct(info['through_alignment']['accuracy'])} |
| the fer package's model (the baseline), same faces, same tool | {_baseline(info['baseline'])} |
| time per face (preparation + invoke, 1 thread, this machine) | {m['ms_per_face']:.3f} ms |

1. Each test face is re-cut as the pipeline cuts camera frames: FaceMesh on the face, then `face_align`
   ({info['aligned_fraction'] * 100:.1f} % of faces; the others, where FaceMesh finds no face, are scored as they are).

Another camera's tone curve (`tools/eval_emotion.py --gamma G --contrast C`): the equalisation makes the input
independent of any monotonic change of gray levels, short of rounding.

| test faces under | accuracy |
|---|---|
{exposure_rows}

Recall per class:

| class | recall |
|---|---|
{recall_rows}

Confusion (rows: true class, columns: predicted):

| | {header} |
|---|{'---|' * len(EMOTION_LABELS)}
{confusion_rows}

## Limits
- FER-2013 is web photos in visible light, mostly frontal, posed and spontaneous mixed; a NIR cabin camera, a turned
  head and real driving faces differ. The pipeline reports emotion only above `vision.emotion_min_quality` and as a
  window mean, and the face arousal it feeds fusion with is a coarse proxy.
- Contempt and disgust are rare in FER+ (about 100 training faces each, 13 and 24 test faces): their recall is
  measured on few faces and their scores should not be trusted alone.
"""
    (model_file.parent / "emotion.md").write_text(card, encoding="utf-8")

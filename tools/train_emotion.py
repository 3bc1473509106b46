#!/usr/bin/env python3
"""Train the facial emotion CNN on FER+ (eight classes); export models/emotion.tflite (full int8) with its card.

    .venv-train/bin/python tools/train_emotion.py [--data DIR] [--seed 7] [--epochs 50] [--resume]

The faces are FER-2013's, the labels FER+'s (Barsoum et al., 2016: ten annotators per face, contempt added), read
from the dataset's ferplus_labels.csv. The target is the annotators' vote distribution, which Barsoum et al. found
better than the majority label. `train/` (without the faces whose pixels also sit in `val/`) is split, stratified
by majority label and seeded, into a training part and a selection part that picks the epoch; `val/` (the official
PublicTest split) is used for neither and is where the card's numbers come from.

Checkpoints: the whole training state (weights, optimiser, dropout seeds, epoch, best so far) is saved in --work
after every epoch, and `--resume` carries on from it as if never stopped (as far as the CPU's float sums repeat),
since every epoch's augmentation and shuffle are seeded by (seed, epoch); the best weights are kept there too, so
`--weights FILE` exports and scores them without training. Needs the `train` extra (TensorFlow); the CPU is enough
(about 1.5 min per epoch on 2 cores, 50 epochs by default); a GPU is used when TensorFlow sees one.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from functools import partial
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from fer2013 import load_ferplus  # noqa: E402
from tflite_int8 import convert_int8  # noqa: E402

from edge.models import ModelMissing  # noqa: E402
from edge.types import EMOTION_LABELS  # noqa: E402
from edge.vision.emotion import FACE_SIZE, INPUT_SIZE, prepare_face  # noqa: E402

SHIFT_PX = (FACE_SIZE - INPUT_SIZE) / 2  # the centre crop's margin: shifting by it stays inside the face image
EXPOSURES = ((0.5, 1.0), (2.0, 1.0), (1.0, 0.5))  # (gamma, contrast): cameras unlike the dataset's, for the card


def default_data() -> Path:
    return Path(os.environ.get("DMS_DATASETS", ROOT.parent / "shared" / "datasets")) / "fer2013"


def stratified_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, selection): `fraction` of every class goes to selection."""
    rng = np.random.default_rng(seed)
    train, selection = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        k = int(round(len(idx) * fraction))
        selection.append(idx[:k])
        train.append(idx[k:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(selection))


def augment(faces: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """What a cabin NIR camera and our landmark alignment do to a face: alignment error (shift, scale, roll),
    either side of the face, exposure and gamma, over-exposure clipping, focus blur, sensor noise, and occlusion
    (a hand, a steering-wheel spoke, glasses' glare) as random erasing."""
    out = np.empty((len(faces), INPUT_SIZE, INPUT_SIZE, 1), np.float32)
    c = FACE_SIZE / 2
    for i, face in enumerate(faces):
        m = cv2.getRotationMatrix2D((c, c), rng.uniform(-15, 15), rng.uniform(0.9, 1.1))
        m[:, 2] += rng.uniform(-SHIFT_PX, SHIFT_PX, 2)
        x = cv2.warpAffine(face, m, (FACE_SIZE, FACE_SIZE), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        if rng.random() < 0.5:
            x = x[:, ::-1]
        x = x.astype(np.float32) / 255.0
        x = np.clip(np.power(x, rng.uniform(0.6, 1.6)) * rng.uniform(0.8, 1.25), 0.0, 1.0)
        if rng.random() < 0.2:
            x = cv2.GaussianBlur(x, (0, 0), rng.uniform(0.3, 1.0))
        x = x + rng.normal(0, rng.uniform(0, 0.03), x.shape)
        if rng.random() < 0.4:
            area = rng.uniform(0.02, 0.15) * FACE_SIZE * FACE_SIZE
            aspect = np.exp(rng.uniform(np.log(0.3), np.log(3.3)))
            h = int(min(FACE_SIZE, round(np.sqrt(area * aspect))))
            w = int(min(FACE_SIZE, round(np.sqrt(area / aspect))))
            y0, x0 = rng.integers(0, FACE_SIZE - h + 1), rng.integers(0, FACE_SIZE - w + 1)
            x[y0 : y0 + h, x0 : x0 + w] = rng.uniform(0, 1, (h, w))
        out[i] = prepare_face(np.clip(x * 255.0, 0, 255).astype(np.uint8))
    return out


def build_model(tf):
    """VGG-style: two 3x3 convolutions (batch norm, ReLU) per stage at 44, 22, 11 and 5 px with 32, 64, 128 and
    192 filters, max pooling between, global average pooling, dropout, 8 logits (~0.84 M parameters, ~90 M MACs).
    Sized to stay under 1 MB as int8 and to train in an hour or two on a 2-core CPU."""
    layers = tf.keras.layers

    def conv(x, filters: int):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        return layers.ReLU()(x)

    inputs = tf.keras.Input((INPUT_SIZE, INPUT_SIZE, 1), name="face")
    x = inputs
    for k, filters in enumerate((32, 64, 128, 192)):
        if k:
            x = layers.MaxPool2D()(x)
        x = conv(conv(x, filters), filters)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.4)(x)
    logits = layers.Dense(len(EMOTION_LABELS), name="logits")(x)
    return tf.keras.Model(inputs, logits, name="emotion")


def with_softmax(tf, model):
    """The exported model gives probabilities: an int8 output in [0, 1] with 1/256 steps."""
    return tf.keras.Model(model.input, tf.keras.layers.Softmax(name="scores")(model.output), name="emotion")


def export_int8(tf, model, calibration: np.ndarray) -> bytes:
    return convert_int8(tf, tf.lite.TFLiteConverter.from_keras_model(with_softmax(tf, model)), calibration)


def sidecar(weights: Path) -> Path:
    """What the weights file does not say: the epoch they come from."""
    return weights.with_name(weights.name.removesuffix(".weights.h5") + ".json")


def float_accuracy(model, x: np.ndarray, y: np.ndarray) -> float:
    logits = model.predict(x, batch_size=512, verbose=0)
    return float((logits.argmax(1) == y).mean())


def compile_for_training(tf, model, lr: float, steps_per_epoch: int, epochs: int) -> None:
    """AdamW with a one-epoch warm-up and cosine decay; cross-entropy against the vote distribution."""
    schedule = tf.keras.optimizers.schedules.CosineDecay(
        lr / 30, steps_per_epoch * (epochs - 1), warmup_target=lr, warmup_steps=steps_per_epoch
    )
    optimizer = tf.keras.optimizers.AdamW(schedule, weight_decay=0.05)
    optimizer.exclude_from_weight_decay(var_names=["gamma", "beta", "bias"])
    loss = tf.keras.losses.CategoricalCrossentropy(from_logits=True)
    model.compile(optimizer, loss, metrics=["accuracy"])


def _random_state(model) -> list:
    """The dropout layers' seed generators: model variables that save_weights leaves out."""
    return [v for v in model.variables if "seed_generator_state" in v.path]


class Checkpoint:
    """The whole training state in --work, rewritten after every epoch: the weights, then the optimiser's variables
    and the dropout seed generators as arrays (Keras' own .keras reload forgets AdamW's weight-decay exclusions, and
    neither format keeps the seed generators), and the progress."""

    def __init__(self, work: Path, seed: int):
        work.mkdir(parents=True, exist_ok=True)
        self.best = work / f"best_seed{seed}.weights.h5"
        self.weights = work / f"last_seed{seed}.weights.h5"
        self.state = work / f"last_seed{seed}.state.npz"
        self.progress = work / f"last_seed{seed}.json"

    def save(self, model, progress: dict) -> None:
        model.save_weights(self.weights)
        arrays = {f"optimiser_{k}": v.numpy() for k, v in enumerate(model.optimizer.variables)}
        arrays |= {f"random_{k}": v.numpy() for k, v in enumerate(_random_state(model))}
        np.savez(self.state, **arrays)
        self.progress.write_text(json.dumps(progress))

    def restore(self, model) -> dict:
        """Into a compiled model of the same build; returns the progress."""
        model.optimizer.build(model.trainable_variables)
        model.load_weights(self.weights)
        saved = np.load(self.state)
        for prefix, variables in (("optimiser", model.optimizer.variables), ("random", _random_state(model))):
            if sum(name.startswith(prefix) for name in saved.files) != len(variables):
                raise SystemExit(f"{self.state}: its {prefix} variables do not fit this model")
            for k, v in enumerate(variables):
                v.assign(saved[f"{prefix}_{k}"])
        return json.loads(self.progress.read_text())


def train(tf, args, train_faces: np.ndarray, votes: np.ndarray, plain_sel: np.ndarray, sel_labels: np.ndarray):
    """Trains (or resumes) to args.epochs; returns the model with the best selection-accuracy weights and their
    epoch. Every epoch leaves a checkpoint, so an interrupted run loses at most one epoch."""
    ckpt = Checkpoint(args.work, args.seed)
    model = build_model(tf)
    compile_for_training(tf, model, args.lr, int(np.ceil(len(train_faces) / args.batch)), args.epochs)
    if args.resume and ckpt.progress.is_file():
        progress = ckpt.restore(model)
        if progress["epochs"] != args.epochs:
            raise SystemExit(f"{ckpt.progress}: a run of {progress['epochs']} epochs; resume it with --epochs "
                             f"{progress['epochs']} or start again without --resume")
        print(f"resuming after epoch {progress['epoch']} (best {progress['best_accuracy']:.4f} at epoch "
              f"{progress['best_epoch']})", flush=True)
    else:
        progress = {"epoch": 0, "best_accuracy": -1.0, "best_epoch": 0, "epochs": args.epochs}
    started = time.time()
    for epoch in range(progress["epoch"], args.epochs):
        tf.keras.utils.set_random_seed(args.seed * 1000 + epoch)
        x = augment(train_faces, np.random.default_rng([args.seed, epoch]))
        hist = model.fit(x, votes, batch_size=args.batch, epochs=1, shuffle=True, verbose=0)
        acc = float_accuracy(model, plain_sel, sel_labels)
        progress["epoch"] = epoch + 1
        if acc > progress["best_accuracy"]:
            progress["best_accuracy"], progress["best_epoch"] = acc, epoch + 1
            model.save_weights(ckpt.best)
            sidecar(ckpt.best).write_text(json.dumps({"epoch": epoch + 1, "selection_accuracy": acc}))
        ckpt.save(model, progress)
        print(f"epoch {epoch + 1:2d}: loss {hist.history['loss'][0]:.4f} acc {hist.history['accuracy'][0]:.4f}  "
              f"selection {acc:.4f}  ({time.time() - started:.0f} s)", flush=True)
    model.load_weights(ckpt.best)
    return model, progress["best_epoch"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=default_data())
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--selection-fraction", type=float, default=0.1)
    parser.add_argument("--out", type=Path, default=ROOT / "models")
    parser.add_argument("--work", type=Path, default=Path.home() / ".cache" / "dms" / "train_emotion")
    parser.add_argument("--resume", action="store_true", help="carry on from the last checkpoint in --work")
    parser.add_argument("--deterministic", action="store_true",
                        help="bit-identical reruns (TensorFlow's op determinism: about 2x slower on the CPU)")
    parser.add_argument("--weights", type=Path, help="skip training: export and score these weights")
    args = parser.parse_args()

    import tensorflow as tf

    tf.keras.utils.set_random_seed(args.seed)
    if args.deterministic:
        tf.config.experimental.enable_op_determinism()
    rng = np.random.default_rng(args.seed)

    train_split = load_ferplus(args.data, "train", drop_cross_split_duplicates=True)
    test = load_ferplus(args.data, "val")
    tr, sel = stratified_split(train_split.labels, args.selection_fraction, args.seed)
    faces, labels = train_split.faces, train_split.labels
    print(f"train {len(tr)}, selection {len(sel)} (from train/), test {len(test.faces)} (val/)", flush=True)
    plain_sel = np.stack([prepare_face(f) for f in faces[sel]])
    plain_test = np.stack([prepare_face(f) for f in test.faces])

    if args.weights:
        model = build_model(tf)
        model.load_weights(args.weights)
        best_epoch = json.loads(sidecar(args.weights).read_text())["epoch"] if sidecar(args.weights).is_file() else 0
    else:
        model, best_epoch = train(tf, args, faces[tr], train_split.votes[tr], plain_sel, labels[sel])
    float_sel = float_accuracy(model, plain_sel, labels[sel])
    float_test = float_accuracy(model, plain_test, test.labels)
    print(f"float model: selection {float_sel:.4f}, test {float_test:.4f}", flush=True)

    calibration = np.stack([prepare_face(f) for f in faces[rng.choice(tr, 1000, replace=False)]])
    tflite = export_int8(tf, model, calibration)
    args.out.mkdir(parents=True, exist_ok=True)
    model_file = args.out / "emotion.tflite"
    model_file.write_bytes(tflite)

    from emotion_card import write_card_and_manifest
    from eval_emotion import evaluate, exposed, realign, resolve_model

    # the manifest still names the previous model's classes until the card is written
    evaluate_new = partial(evaluate, model_file, model_labels=EMOTION_LABELS)
    metrics = evaluate_new(test.faces, test.labels)
    print(f"int8 test accuracy {metrics['accuracy']:.4f} (uar {metrics['uar']:.4f}); {len(tflite)} bytes", flush=True)
    realigned, n_aligned = realign(test.faces)
    through_alignment = evaluate_new(realigned, test.labels)
    print(f"through the pipeline's alignment: {through_alignment['accuracy']:.4f} ({n_aligned} re-cut)", flush=True)
    exposures = {f"gamma {g}, contrast {c}": evaluate_new(exposed(test.faces, g, c), test.labels)
                 for g, c in EXPOSURES}
    try:
        baseline = evaluate(resolve_model("fer"), test.faces, test.labels)
    except ModelMissing:
        baseline = None
    write_card_and_manifest(
        model_file,
        seed=args.seed,
        data=args.data,
        counts={"train": len(tr), "selection": len(sel), "test": len(test.faces)},
        best_epoch=best_epoch,
        epochs=args.epochs,
        selection_accuracy=float_sel,
        float_test_accuracy=float_test,
        metrics=metrics,
        through_alignment=through_alignment,
        aligned_fraction=n_aligned / len(test.faces),
        baseline=baseline,
        exposures=exposures,
        params=model.count_params(),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

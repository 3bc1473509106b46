#!/usr/bin/env python3
"""Train the facial emotion CNN on FER-2013; export models/emotion.tflite (full int8) with its card.

    .venv-train/bin/python tools/train_emotion.py [--data ../shared/datasets/fer2013] [--seed 7] [--epochs 30]

`train/` is split (stratified, seeded) into a training part and a selection part that picks the epoch; `val/` (the
official PublicTest split) is used for neither and is where the card's numbers come from. The best weights are kept
in --work after every improving epoch, so `--weights FILE` can export and score them without training again.
Seeded: the split, the augmentation and the initial weights repeat exactly; the float sums of a multi-threaded CPU
do not, unless --deterministic. Needs the `train` extra (TensorFlow); the CPU is enough (about 2.5 min per epoch on
2 cores); a GPU is used when TensorFlow sees one.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from fer2013 import load_folder  # noqa: E402
from tflite_int8 import convert_int8  # noqa: E402

from edge.models import ModelMissing  # noqa: E402
from edge.types import EMOTION_LABELS  # noqa: E402
from edge.vision.emotion import FACE_SIZE, INPUT_SIZE, prepare_face  # noqa: E402

SHIFT_PX = (FACE_SIZE - INPUT_SIZE) / 2  # the centre crop's margin: shifting by it stays inside the face image


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
    192 filters, max pooling between, global average pooling, dropout, 7 logits (~0.84 M parameters, ~90 M MACs).
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=default_data())
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--selection-fraction", type=float, default=0.1)
    parser.add_argument("--out", type=Path, default=ROOT / "models")
    parser.add_argument("--work", type=Path, default=Path.home() / ".cache" / "dms" / "train_emotion")
    parser.add_argument("--deterministic", action="store_true",
                        help="bit-identical reruns (TensorFlow's op determinism: about 2x slower on the CPU)")
    parser.add_argument("--weights", type=Path, help="skip training: export and score these weights")
    args = parser.parse_args()

    import tensorflow as tf

    tf.keras.utils.set_random_seed(args.seed)
    if args.deterministic:
        tf.config.experimental.enable_op_determinism()
    rng = np.random.default_rng(args.seed)

    faces, labels, _ = load_folder(args.data / "train")
    test_faces, test_labels, _ = load_folder(args.data / "val")
    tr, sel = stratified_split(labels, args.selection_fraction, args.seed)
    print(f"train {len(tr)}, selection {len(sel)} (from train/), test {len(test_faces)} (val/)", flush=True)
    plain_sel = np.stack([prepare_face(f) for f in faces[sel]])
    plain_test = np.stack([prepare_face(f) for f in test_faces])

    model = build_model(tf)
    args.work.mkdir(parents=True, exist_ok=True)
    best_file = args.work / f"best_seed{args.seed}.weights.h5"
    best_acc, best_epoch = -1.0, 0
    if args.weights:
        model.load_weights(args.weights)
        if sidecar(args.weights).is_file():
            best_epoch = json.loads(sidecar(args.weights).read_text())["epoch"]
    else:
        steps_per_epoch = int(np.ceil(len(tr) / args.batch))
        schedule = tf.keras.optimizers.schedules.CosineDecay(
            args.lr / 30, steps_per_epoch * (args.epochs - 1), warmup_target=args.lr, warmup_steps=steps_per_epoch
        )
        optimizer = tf.keras.optimizers.AdamW(schedule, weight_decay=0.05)
        optimizer.exclude_from_weight_decay(var_names=["gamma", "beta", "bias"])
        loss = tf.keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1)
        model.compile(optimizer, loss, metrics=["accuracy"])
        onehot = np.eye(len(EMOTION_LABELS), dtype=np.float32)[labels[tr]]
        started = time.time()
        for epoch in range(args.epochs):
            x = augment(faces[tr], rng)
            hist = model.fit(x, onehot, batch_size=args.batch, epochs=1, shuffle=True, verbose=0)
            acc = float_accuracy(model, plain_sel, labels[sel])
            if acc > best_acc:
                best_acc, best_epoch = acc, epoch + 1
                model.save_weights(best_file)
                sidecar(best_file).write_text(json.dumps({"epoch": best_epoch, "selection_accuracy": acc}))
            print(f"epoch {epoch + 1:2d}: loss {hist.history['loss'][0]:.4f} acc {hist.history['accuracy'][0]:.4f}  "
                  f"selection {acc:.4f}  ({time.time() - started:.0f} s)", flush=True)
        model.load_weights(best_file)
    float_sel = float_accuracy(model, plain_sel, labels[sel])
    float_test = float_accuracy(model, plain_test, test_labels)
    print(f"float model: selection {float_sel:.4f}, test {float_test:.4f}", flush=True)

    calibration = np.stack([prepare_face(f) for f in faces[rng.choice(tr, 1000, replace=False)]])
    tflite = export_int8(tf, model, calibration)
    args.out.mkdir(parents=True, exist_ok=True)
    model_file = args.out / "emotion.tflite"
    model_file.write_bytes(tflite)

    from emotion_card import write_card_and_manifest
    from eval_emotion import evaluate, realign, resolve_model

    metrics = evaluate(model_file, test_faces, test_labels)
    print(f"int8 test accuracy {metrics['accuracy']:.4f} (uar {metrics['uar']:.4f}); {len(tflite)} bytes", flush=True)
    realigned, n_aligned = realign(test_faces)
    through_alignment = evaluate(model_file, realigned, test_labels)
    print(f"through the pipeline's alignment: {through_alignment['accuracy']:.4f} ({n_aligned} re-cut)", flush=True)
    try:
        baseline = evaluate(resolve_model("fer"), test_faces, test_labels)
    except ModelMissing:
        baseline = None
    write_card_and_manifest(
        model_file,
        seed=args.seed,
        data=args.data,
        counts={"train": len(tr), "selection": len(sel), "test": len(test_faces)},
        best_epoch=best_epoch,
        epochs=args.epochs,
        selection_accuracy=float_sel,
        float_test_accuracy=float_test,
        metrics=metrics,
        through_alignment=through_alignment,
        aligned_fraction=n_aligned / len(test_faces),
        baseline=baseline,
        params=model.count_params(),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Full-integer int8 TFLite conversion shared by the training tools: int8 weights, activations, input and output,
the activation ranges calibrated on real inputs (so the edge runtime needs no float kernels)."""

from __future__ import annotations

from typing import Any

import numpy as np


def convert_int8(tf: Any, converter: Any, calibration: np.ndarray) -> bytes:
    """`converter`: a tf.lite.TFLiteConverter for the model; `calibration`: model inputs without the batch axis."""
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([x[None]] for x in calibration)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    return converter.convert()

"""Cabin audio processing: voice activity and segment quality (vad.py), MFCC and pitch features (features.py).

Everything takes mono 16 kHz int16 PCM, as the sources in edge/sources/audio.py deliver it; `pcm16` turns float
audio (a training tool's resampled clips) into the same samples, so training and inference see identical input.
"""

from __future__ import annotations

import numpy as np


def pcm16(samples: np.ndarray) -> np.ndarray:
    """Mono int16 samples: int16 unchanged; floats are taken as [-1, 1] full scale, scaled, rounded and clipped."""
    data = np.asarray(samples)
    if data.ndim != 1:
        raise ValueError(f"audio must be mono (one dimension), got shape {data.shape}")
    if data.dtype == np.int16:
        return data
    if data.dtype.kind == "f":
        return np.clip(np.round(data * 32768.0), -32768, 32767).astype(np.int16)
    raise TypeError(f"audio samples must be int16 PCM or float in [-1, 1], got {data.dtype}")

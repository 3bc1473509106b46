"""MFCC and log-mel features for the voice model, with every parameter pinned in MFCC below.

Training (tools/train_voice.py) and inference call the same functions with the same parameters; the parameters go
into the model's manifest entry (`MfccParams.as_dict()`) so a model is never fed features it was not trained on.
python_speech_features' pitfalls, avoided here: its default window is rectangular (we pass numpy.hamming), and its
`logfbank` takes no window at all (we take the log of `fbank` with the window instead).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import python_speech_features as psf

from edge.audio import pcm16

_WINDOWS = {"hamming": np.hamming}


@dataclass(frozen=True, slots=True)
class MfccParams:
    sample_rate: int = 16000
    winlen_s: float = 0.025  # 400 samples: fits nfft, so no frame is truncated
    winstep_s: float = 0.010
    window: Literal["hamming"] = "hamming"
    nfft: int = 512
    nfilt: int = 26
    numcep: int = 13
    lowfreq_hz: float = 0.0
    highfreq_hz: float = 8000.0  # Nyquist at 16 kHz
    preemph: float = 0.97
    ceplifter: int = 22
    append_energy: bool = True  # coefficient 0 is the log frame energy
    delta_n: int = 2  # deltas over ±2 frames; delta-deltas are deltas of the deltas

    @property
    def dim(self) -> int:
        return 3 * self.numcep  # coefficients, deltas, delta-deltas

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


MFCC = MfccParams()


def _prepare(samples: np.ndarray) -> np.ndarray:
    data = pcm16(samples)
    if len(data) == 0:
        raise ValueError("no audio samples to compute features from")
    return data.astype(np.float64)  # int16 scale: the log energies depend on it, so it is fixed too


def mfcc_features(samples: np.ndarray, params: MfccParams = MFCC) -> np.ndarray:
    """(frames, 3·numcep) float32: MFCC, deltas and delta-deltas; int16 PCM or float in [-1, 1] at 16 kHz."""
    signal = _prepare(samples)
    cep = psf.mfcc(
        signal,
        samplerate=params.sample_rate,
        winlen=params.winlen_s,
        winstep=params.winstep_s,
        numcep=params.numcep,
        nfilt=params.nfilt,
        nfft=params.nfft,
        lowfreq=params.lowfreq_hz,
        highfreq=params.highfreq_hz,
        preemph=params.preemph,
        ceplifter=params.ceplifter,
        appendEnergy=params.append_energy,
        winfunc=_WINDOWS[params.window],
    )
    d1 = psf.delta(cep, params.delta_n)
    d2 = psf.delta(d1, params.delta_n)
    return np.hstack((cep, d1, d2)).astype(np.float32)


def logmel_features(samples: np.ndarray, params: MfccParams = MFCC) -> np.ndarray:
    """(frames, nfilt) float32 log mel filterbank energies, framed exactly like mfcc_features."""
    signal = _prepare(samples)
    energies, _ = psf.fbank(
        signal,
        samplerate=params.sample_rate,
        winlen=params.winlen_s,
        winstep=params.winstep_s,
        nfilt=params.nfilt,
        nfft=params.nfft,
        lowfreq=params.lowfreq_hz,
        highfreq=params.highfreq_hz,
        preemph=params.preemph,
        winfunc=_WINDOWS[params.window],
    )
    return np.log(energies).astype(np.float32)  # fbank already floors zero energies at machine epsilon


class SpeakerNormaliser:
    """Per-driver feature normalisation: the running mean and standard deviation of the driver's own frames.

    `update()` folds in new frames (Chan's parallel form of Welford's method, in float64, so it is exact for any
    batch sizes); `apply()` standardises frames with what was learned. Voice features vary more between speakers
    than between one speaker's moods, so the voice model sees each driver relative to themselves. `ready` says
    whether `min_frames` frames (3 s of voiced audio by default) have been seen; `std_floor` keeps a constant
    feature from dividing by zero.
    """

    def __init__(self, dim: int = MFCC.dim, min_frames: int = 300, std_floor: float = 1e-3):
        if dim < 1:
            raise ValueError(f"feature dim {dim}: must be at least 1")
        self.dim = dim
        self.min_frames = min_frames
        self.std_floor = std_floor
        self.reset()

    def reset(self) -> None:
        self.count = 0
        self._mean = np.zeros(self.dim, dtype=np.float64)
        self._m2 = np.zeros(self.dim, dtype=np.float64)  # sum of squared deviations from the mean

    @property
    def ready(self) -> bool:
        return self.count >= self.min_frames

    @property
    def mean(self) -> np.ndarray:
        return self._mean.copy()

    @property
    def std(self) -> np.ndarray:
        var = self._m2 / self.count if self.count else np.zeros(self.dim)
        return np.maximum(np.sqrt(var), self.std_floor)

    def update(self, frames: np.ndarray) -> None:
        x = self._check(frames).astype(np.float64)
        n = len(x)
        if n == 0:
            return
        mean_b = x.mean(axis=0)
        m2_b = ((x - mean_b) ** 2).sum(axis=0)
        total = self.count + n
        delta = mean_b - self._mean
        self._mean = self._mean + delta * (n / total)
        self._m2 = self._m2 + m2_b + delta**2 * (self.count * n / total)
        self.count = total

    def apply(self, frames: np.ndarray) -> np.ndarray:
        if self.count == 0:
            raise RuntimeError("SpeakerNormaliser has seen no frames yet")
        x = self._check(frames)
        return ((x - self._mean) / self.std).astype(np.float32)

    def _check(self, frames: np.ndarray) -> np.ndarray:
        x = np.asarray(frames)
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"frames of shape {x.shape}: expected (n, {self.dim})")
        return x

"""MFCC and pitch features for the voice model, with every parameter pinned in MFCC and PITCH below.

Training (tools/train_voice.py) and inference call the same functions with the same parameters; the parameters go
into the model's manifest entry (`feature_description()`: MFCC.as_dict() with PITCH.as_dict() under "pitch") so a
model is never fed features it was not trained on.
python_speech_features' pitfall, avoided here: its default window is rectangular (we pass numpy.hamming).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import python_speech_features as psf
import scipy.fft
from numpy.lib.stride_tricks import sliding_window_view

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


@dataclass(frozen=True, slots=True)
class PitchParams:
    """F0 per MFCC frame: the peak of the normalised autocorrelation of a window centred on the frame's centre.

    Columns: log F0 (natural log of Hz) and a pitched flag (1.0 where the autocorrelation peak reaches
    voicing_threshold, else 0.0). Frames without pitch get their log F0 by linear interpolation (over frame index)
    between the pitched frames among those computed, held at the ends; with no pitched frame at all, log(fill_hz).
    So per-speaker normalisation and segment statistics treat the pitch columns like any other.
    """

    analysis_rate: int = 8000  # the 16 kHz audio with sample pairs averaged (a cheap low-pass)
    window_s: float = 0.040  # 320 samples at 8 kHz, centred on the MFCC frame's centre: 2.4 periods at 60 Hz
    fmin_hz: float = 60.0
    fmax_hz: float = 400.0
    voicing_threshold: float = 0.6  # normalised autocorrelation at the chosen lag
    octave_ratio: float = 0.85  # the shortest-lag local peak within this of the highest one (against octave drops)
    fill_hz: float = 150.0  # log F0 of a frame set without any pitched frame
    fill: Literal["linear_log_f0"] = "linear_log_f0"

    @property
    def dim(self) -> int:
        return 2  # log F0, pitched

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


PITCH = PitchParams()
FRAME_DIM = MFCC.dim + PITCH.dim  # a voice frame: MFCC, deltas, delta-deltas, log F0, pitched


def feature_description() -> dict[str, Any]:
    """The pinned frame features as the voice model's manifest entry records them."""
    return {**MFCC.as_dict(), "pitch": PITCH.as_dict()}


def frame_count(n_samples: int, params: MfccParams = MFCC) -> int:
    """How many frames mfcc_features gives for n_samples (python_speech_features' framing: the last one padded)."""
    win = int(round(params.winlen_s * params.sample_rate))
    step = int(round(params.winstep_s * params.sample_rate))
    return 1 if n_samples <= win else 1 + math.ceil((n_samples - win) / step)


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


def pitch_track(samples: np.ndarray, frames: np.ndarray | None = None, params: PitchParams = PITCH,
                mfcc: MfccParams = MFCC) -> tuple[np.ndarray, np.ndarray]:
    """(log F0, peak) float32 per MFCC frame (or for the frame indices `frames`): log of the F0 in Hz at the chosen
    lag and the normalised autocorrelation there (0 where no lag in range is a local peak).

    Vectorised over frames: each window is mean-removed, its autocorrelation taken by FFT and normalised by the
    energies of its two overlapping parts, sqrt(E[0:W-lag] E[lag:W]), so that a periodic window scores near 1
    whatever its loudness and position; the lag is refined by a parabola through the peak's neighbours."""
    x = np.asarray(pcm16(samples), dtype=np.float32)
    if len(x) == 0:
        raise ValueError("no audio samples to compute features from")
    decimation = mfcc.sample_rate // params.analysis_rate
    step = int(round(mfcc.winstep_s * mfcc.sample_rate)) // decimation
    centre = int(round(mfcc.winlen_s * mfcc.sample_rate)) // 2 // decimation
    width = int(round(params.window_s * params.analysis_rate))
    n_frames = frame_count(len(x), mfcc)
    index = np.arange(n_frames) if frames is None else np.asarray(frames, dtype=np.int64)
    if len(index) == 0:
        return np.zeros(0, np.float32), np.zeros(0, np.float32)
    n = len(x) // decimation
    y = sum(x[i : n * decimation : decimation] for i in range(decimation)) / decimation  # faster than a reshape
    left = width // 2 - centre  # zeros before the audio so that frame 0's window is centred on its centre
    padded = np.zeros(left + (n_frames - 1) * step + width, np.float32)
    m = min(len(y), len(padded) - left)
    padded[left : left + m] = y[:m]
    lo = int(params.analysis_rate // params.fmax_hz)
    hi = int(math.ceil(params.analysis_rate / params.fmin_hz))
    nfft = 1 << math.ceil(math.log2(width + hi + 2))  # circular wrap-around stays clear of lags up to hi + 1
    buf = np.zeros((len(index), nfft), np.float32)
    windows = sliding_window_view(padded, width)[::step][index]
    buf[:, :width] = windows - windows.mean(axis=1, keepdims=True)
    spec = scipy.fft.rfft(buf, axis=1)
    acf = scipy.fft.irfft(spec.real**2 + spec.imag**2, nfft, axis=1)
    energy = np.zeros((len(index), width + 1), np.float32)
    np.cumsum(buf[:, :width] ** 2, axis=1, out=energy[:, 1:])
    lags = np.arange(lo - 1, hi + 2)
    head = energy[:, width - lags]  # energy of window[0 : width - lag]
    tail = energy[:, width:] - energy[:, lags]  # energy of window[lag : width]
    r = acf[:, lags] / np.sqrt(np.maximum(head * tail, 1e-3))
    inner = r[:, 1:-1]
    peak = (inner >= r[:, :-2]) & (inner > r[:, 2:])
    best = np.where(peak, inner, -1.0).max(axis=1)
    k = (peak & (inner >= params.octave_ratio * best[:, None])).argmax(axis=1)
    rows = np.arange(len(index))
    a, b, c = r[rows, k], r[rows, k + 1], r[rows, k + 2]
    curvature = a - 2 * b + c
    safe = np.abs(curvature) > 1e-6
    shift = np.where(safe, 0.5 * (a - c) / np.where(safe, curvature, 1.0), 0.0)
    lag = lags[k + 1] + np.clip(shift, -0.5, 0.5)
    strength = np.where(best > -1.0, b, 0.0)
    return np.log(params.analysis_rate / lag).astype(np.float32), strength.astype(np.float32)


def pitch_features(samples: np.ndarray, frames: np.ndarray | None = None, params: PitchParams = PITCH) -> np.ndarray:
    """(n, PITCH.dim) float32 columns log F0 (unpitched frames filled, see PitchParams) and pitched (1.0 / 0.0),
    per MFCC frame or for the frame indices `frames` (ascending); the fill interpolates over those frames only."""
    log_f0, strength = pitch_track(samples, frames, params)
    index = np.arange(len(log_f0)) if frames is None else np.asarray(frames, dtype=np.float64)
    pitched = strength >= params.voicing_threshold
    if pitched.any():
        filled = np.interp(index, index[pitched], log_f0[pitched])
    else:
        filled = np.full(len(log_f0), math.log(params.fill_hz))
    return np.stack([filled, pitched], axis=1).astype(np.float32)


class SpeakerNormaliser:
    """Per-driver feature normalisation: the running mean and standard deviation of the driver's own frames.

    `update()` folds in new frames (Chan's parallel form of Welford's method, in float64, so it is exact for any
    batch sizes); `apply()` standardises frames with what was learned. Voice features vary more between speakers
    than between one speaker's moods, so the voice model sees each driver relative to themselves. `ready` says
    whether `min_frames` frames (3 s of voiced audio by default) have been seen; `std_floor` keeps a constant
    feature from dividing by zero.
    """

    def __init__(self, dim: int = FRAME_DIM, min_frames: int = 300, std_floor: float = 1e-3):
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

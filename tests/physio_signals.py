"""Synthetic physiology with known truth: ECG with known beats, skin conductance with known responses, the samples
a sensor would send, and a drive's physio.csv (docs/sensors.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge.sources.serial_lines import PhysioSample

FS = 250.0


def beat_times(duration_s: float, mean_rr: float = 0.8, seed: int = 0) -> np.ndarray:
    """R times from 0.5 s to duration - 0.5 s: respiratory sinus arrhythmia (±6 %) plus ±3 % random jitter."""
    rng = np.random.default_rng(seed)
    times = [0.5]
    while True:
        rr = mean_rr * (1 + 0.06 * np.sin(2 * np.pi * times[-1] / 4.0) + 0.03 * rng.uniform(-1, 1))
        if times[-1] + rr > duration_s - 0.5:
            return np.array(times)
        times.append(times[-1] + rr)


def synthetic_ecg(
    beats: np.ndarray,
    duration_s: float,
    fs: float = FS,
    polarity: float = 1.0,
    t_height: float = 0.35,
    t_width: float = 0.05,
    noise: float = 0.02,
    seed: int = 1,
) -> np.ndarray:
    """Sums of Gaussians per beat (P, Q, R of height 1 at the beat time, S, T 280 ms after R), times `polarity`, plus
    0.3 Hz and 0.05 Hz baseline wander and white noise (sd `noise`)."""
    t = np.arange(int(duration_s * fs)) / fs
    x = np.zeros_like(t)
    # (offset from R in s, width in s, height): P, Q, R, S, T
    waves = (
        (-0.16, 0.025, 0.12),
        (-0.025, 0.008, -0.12),
        (0.0, 0.01, 1.0),
        (0.03, 0.01, -0.25),
        (0.28, t_width, t_height),
    )
    for b in beats:
        near = slice(max(0, int((b - 0.5) * fs)), int((b + 0.6) * fs))
        for offset, width, height in waves:
            x[near] += height * np.exp(-0.5 * ((t[near] - b - offset) / width) ** 2)
    x *= polarity
    rng = np.random.default_rng(seed)
    return x + 0.3 * np.sin(2 * np.pi * 0.3 * t) + 0.5 * np.sin(2 * np.pi * 0.05 * t) + noise * rng.normal(size=len(t))


def scr_onsets(duration_s: float, every_s: float = 15.0, first_s: float = 5.0) -> np.ndarray:
    return np.arange(first_s, duration_s, every_s)


def synthetic_gsr(
    duration_s: float,
    fs: float = FS,
    level_us: float = 5.0,
    onsets: np.ndarray | None = None,
    amplitude_us: float = 0.3,
    noise_us: float = 0.002,
    seed: int = 3,
) -> np.ndarray:
    """Skin conductance in µS: a tonic level drifting ±2 % over 200 s, a response of `amplitude_us` at each onset
    (a Bateman curve: ~1.5 s rise, ~4 s decay; default one every 15 s from 5 s) and white noise."""
    t = np.arange(int(duration_s * fs)) / fs
    x = level_us * (1.0 + 0.02 * np.sin(2 * np.pi * t / 200.0))
    rise, decay = 0.75, 4.0
    peak_at = np.log(decay / rise) * rise * decay / (decay - rise)
    peak = np.exp(-peak_at / decay) - np.exp(-peak_at / rise)
    for onset in scr_onsets(duration_s) if onsets is None else onsets:
        d = t[t > onset] - onset
        x[t > onset] += amplitude_us * (np.exp(-d / decay) - np.exp(-d / rise)) / peak
    return x + noise_us * np.random.default_rng(seed).normal(size=len(t))


def microsiemens_to_grove(us: np.ndarray, full_scale: int = 1024, open_reading: float = 512.0) -> np.ndarray:
    """The Grove GSR reading that edge.physio.eda.grove_to_microsiemens turns into `us` (its inverse)."""
    k = np.asarray(us, dtype=np.float64) * 1e-2  # siemens × 10 kΩ
    return (open_reading - k * full_scale) / (1.0 + 2.0 * k)


def samples(
    duration_s: float,
    ecg: np.ndarray | None,
    gsr: np.ndarray | None,
    fs: float = FS,
    leads_off: tuple[tuple[float, float], ...] = (),
    missing: tuple[tuple[float, float], ...] = (),
    start_s: float = 0.0,
) -> list[PhysioSample]:
    """What a sensor sends at `fs`: sample i at start_s + i / fs with ECG and/or GSR (None: the sensor has no such
    channel); within a `leads_off` (start, end) the ECG is "!", within a `missing` one nothing arrives."""
    out = []
    for i in range(int(duration_s * fs)):
        t = i / fs
        if any(a <= t < b for a, b in missing):
            continue
        off = ecg is not None and any(a <= t < b for a, b in leads_off)
        out.append(PhysioSample(
            round(start_s + t, 6),
            None if ecg is None or off else float(ecg[i]),
            None if gsr is None else float(gsr[i]),
            None,
            off,
        ))
    return out


def clean_stream(duration_s: float, seed: int = 0, **kw) -> tuple[list[PhysioSample], np.ndarray]:
    """(samples of a 250 Hz ECG + Grove GSR sensor, the true beat times) for `duration_s`; kw go to samples()."""
    beats = beat_times(duration_s, seed=seed)
    ecg = synthetic_ecg(beats, duration_s, seed=seed + 1)
    gsr = microsiemens_to_grove(synthetic_gsr(duration_s, seed=seed + 2))
    return samples(duration_s, ecg, gsr, **kw), beats


def write_physio_csv(path: Path, stream: list[PhysioSample]) -> Path:
    """A drive's physio.csv (docs/sensors.md): t_s,ecg,gsr; "!" when the leads are off, empty for no value."""

    def cell(v: float | None) -> str:
        return "" if v is None else f"{v:.4f}"

    lines = ["t_s,ecg,gsr"]
    lines += [f"{s.t:.6f},{'!' if s.leads_off else cell(s.ecg)},{cell(s.gsr)}" for s in stream]
    path.write_text("\n".join(lines) + "\n", encoding="ascii")
    return path

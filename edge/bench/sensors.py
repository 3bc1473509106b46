"""`dms bench`'s sensor stages: the voice stage on a recording, the physiology stage on a synthetic sensor stream."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from edge.config import Config


def voice_bench(wav: Path, cfg: Config, passes: int = 3) -> dict[str, Any]:
    """The voice stage on every audio.segment_s window of `wav`, one per audio.hop_s, as the daemon runs it: VAD
    and SNR on each, MFCC, pitch and the model on those with enough clear speech. p50 ms per segment of each kind."""
    from edge.audio.analyser import VoiceAnalyser
    from edge.audio.voice import VoiceModel
    from edge.sources.audio import AudioChunk, WavSource

    samples = np.concatenate([c.samples for c in WavSource(wav)])
    rate = WavSource(wav).sample_rate
    size, hop = round(cfg.audio.segment_s * rate), round(cfg.audio.hop_s * rate)
    if len(samples) < size:
        raise ValueError(f"--audio {wav}: shorter than one {cfg.audio.segment_s:g} s segment")
    rt = cfg.runtime
    model = VoiceModel.load(rt.models_dir, rt.num_threads, rt.backend)
    segments = [AudioChunk(samples[i : i + size], i / rate, (i + size - 1) / rate, i)
                for i in range(0, len(samples) - size + 1, hop)]
    classified, skipped = [], []
    for _ in range(passes):
        analyser = VoiceAnalyser(cfg.audio, model)  # a fresh driver each pass
        for segment in segments:
            start = time.perf_counter()
            estimate = analyser.analyse(segment)
            (classified if estimate.arousal is not None else skipped).append(time.perf_counter() - start)

    def p50(times: list[float]) -> float | None:
        return round(float(np.percentile(times, 50)) * 1000.0, 3) if times else None

    return {
        "audio": str(wav),
        "segment_s": cfg.audio.segment_s,
        "segments": len(segments),
        "classified_pct": round(100.0 * len(classified) / (len(classified) + len(skipped)), 1),
        "ms_per_classified_segment": p50(classified),  # VAD + SNR + MFCC + pitch + the model
        "ms_per_skipped_segment": p50(skipped),  # VAD + SNR only: no speech, or too noisy
    }


def _physio_stream(seconds: float, fs: float, seed: int = 0) -> list[Any]:
    """A sensor's samples for timing: an ECG-like train of QRS spikes and T waves at ~75 bpm with beat-to-beat
    jitter, wander and noise, and a Grove GSR reading of ~5 µS with a response every 15 s. Shapes, not physiology:
    enough for the detector and the EDA checks to do the work they do on a real sensor."""
    from edge.sources.serial_lines import PhysioSample

    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * fs)) / fs
    beats = 0.5 + np.cumsum(0.8 + 0.03 * rng.standard_normal(int(seconds / 0.7)))
    ecg = 0.3 * np.sin(2 * np.pi * 0.3 * t) + 0.02 * rng.standard_normal(len(t))
    for b in beats[beats < seconds - 0.5]:
        near = slice(int((b - 0.2) * fs), int((b + 0.5) * fs))
        d = t[near] - b
        ecg[near] += np.exp(-0.5 * (d / 0.01) ** 2) + 0.3 * np.exp(-0.5 * ((d - 0.28) / 0.05) ** 2)
    since = (t - 5.0) % 15.0  # seconds since the last response's onset
    us = 5.0 + 0.3 * (np.exp(-since / 4.0) - np.exp(-since / 0.75)) / 0.55 * (t >= 5.0)
    k = us * 1e-2  # the inverse of edge.physio.eda.grove_to_microsiemens at its defaults
    gsr = (512.0 - 1024.0 * k) / (1.0 + 2.0 * k)
    return [PhysioSample(float(a), float(e), float(g), None, False) for a, e, g in zip(t, ecg, gsr)]


def physio_bench(cfg: Config, passes: int = 3, hops: int = 20, fs: float = 250.0) -> dict[str, Any]:
    """The physiology stage on a synthetic fs Hz ECG + GSR stream, as the daemon runs it: fed a second at a time,
    an estimate every physio.hop_s. Estimates are timed once the window is full; the baseline is shortened to two
    hops, so that with a stress model they include it. p50 ms per estimate, and per second of samples fed."""
    from edge.physio.stage import PhysioStage, load_stress_model

    physio = cfg.physio.model_copy(update={"baseline_s": 2 * cfg.physio.hop_s})
    model, _ = load_stress_model(cfg)
    seconds = physio.window_s + hops * physio.hop_s
    stream = _physio_stream(seconds, fs)
    per_second = int(fs)
    estimate_s, feed_s = [], []
    for _ in range(passes):
        stage = PhysioStage(physio, model)
        next_t = physio.hop_s
        for start in range(0, len(stream), per_second):
            chunk = stream[start : start + per_second]
            began = time.perf_counter()
            stage.feed(chunk)
            feed_s.append(time.perf_counter() - began)
            t = chunk[-1].t
            if t + 0.5 / fs >= next_t:
                next_t += physio.hop_s
                began = time.perf_counter()
                stage.estimate(t)
                if t >= physio.window_s:
                    estimate_s.append(time.perf_counter() - began)
    return {
        "seconds": seconds,
        "ecg_rate_hz": fs,
        "window_s": physio.window_s,
        "estimates": len(estimate_s),
        "stress_model": model is not None,
        "ms_per_estimate": round(float(np.percentile(estimate_s, 50)) * 1000.0, 3),
        "ms_per_estimate_p95": round(float(np.percentile(estimate_s, 95)) * 1000.0, 3),
        "ms_per_second_fed": round(float(np.percentile(feed_s, 50)) * 1000.0, 3),
    }

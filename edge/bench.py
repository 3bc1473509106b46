"""`dms bench`: how fast the vision stage and the monitor run on this board (JSON fields: docs/bench.md).

Frames are decoded first (timed as their own stage), so the CPU time per frame is the vision stage's alone and
not the video decoder's threads. A short untimed warm-up lets the runtime settle, then the clip is timed in
several passes: shared and virtual machines drift by ±20 % over seconds, so the median pass is the figure and
the best and every pass are kept beside it.
"""

from __future__ import annotations

import os
import platform
import resource
import statistics
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edge import sysinfo
from edge.config import Config
from edge.session import DriveSession, recorded_modalities
from edge.stats import StageTimer
from edge.types import Frame
from edge.vision.emotion import EMOTION_MODELS
from edge.vision.pipeline import VisionPipeline

WARMUP_FRAMES = 10


def _decode(video: Path, max_frames: int, timer: StageTimer) -> tuple[list[Frame], float]:
    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        raise ValueError(f"cannot open video {video}")
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    frames: list[Frame] = []
    try:
        while len(frames) < max_frames:
            start = time.perf_counter()
            ok, image = cap.read()
            if not ok:
                break
            timer.record("decode", time.perf_counter() - start)
            frames.append(Frame(image, len(frames) / fps, len(frames)))
    finally:
        cap.release()
    if not frames:
        raise ValueError(f"no frames could be read from {video}")
    return frames, fps


def _board() -> dict[str, Any]:
    return {
        "machine": platform.machine(),
        "system": platform.system(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "opencv": cv2.__version__,
        "board": sysinfo.board_model(),  # Raspberry Pi and Jetson name themselves; else the CPU's model
    }


def model_invokes(cfg: Config, invokes: int = 100) -> dict[str, dict[str, float]]:
    """Each vision model alone, p50 ms per run() (quantisation included) at 1 thread and at the board's cores: what
    a model costs without the rest of the pipeline competing for the caches."""
    from edge.models import model_path
    from edge.runtime import Model

    names = ["face_detector", "face_landmarks", "eye_state"]
    if cfg.vision.emotion_hz > 0:
        names.append(EMOTION_MODELS[cfg.vision.emotion_model])
    threads = sorted({1, cfg.runtime.num_threads, os.cpu_count() or 1})
    out: dict[str, dict[str, float]] = {}
    for name in names:
        path = model_path(name, cfg.runtime.models_dir)
        out[name] = {}
        for n in threads:
            model = Model(path, num_threads=n, backend=cfg.runtime.backend)
            inputs = [np.zeros(spec.shape, np.float32) for spec in model.inputs]
            times = []
            for i in range(invokes + 10):
                start = time.perf_counter()
                model.run(*inputs)
                if i >= 10:
                    times.append(time.perf_counter() - start)
            out[name][f"threads_{n}_p50_ms"] = round(float(np.percentile(times, 50)) * 1000.0, 4)
    return out


def run_bench(video: Path, cfg: Config, max_frames: int = 500, passes: int = 3) -> dict[str, Any]:
    timer = StageTimer(window=max_frames * passes)
    frames, fps = _decode(video, max_frames, timer)
    pipeline = VisionPipeline.from_config(cfg, timer)
    for frame in frames[:WARMUP_FRAMES]:
        pipeline.process(frame)
    decode = timer.percentiles_ms().get("decode")
    timer.clear()

    n = len(frames)
    cpu_ms, wall_ms = [], []
    faces = 0
    for _ in range(passes):
        pipeline.reset()
        # The whole per-frame work of `dms run` (vision, monitor, the state payload), not only the models.
        session = DriveSession(cfg, pipeline, recorded_modalities({}, timer), [], "bench", timer)
        faces = 0
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for frame in frames:
            faces += session.frame(frame).obs.present
        cpu_ms.append((time.process_time() - cpu0) / n * 1000.0)
        wall_ms.append((time.perf_counter() - wall0) / n * 1000.0)

    stages = timer.percentiles_ms()
    if decode:
        stages["decode"] = decode
    h, w = frames[0].image.shape[:2]
    held_mb = sum(f.image.nbytes for f in frames) / 2**20
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux
    return {
        "video": str(video),
        "frames": n,
        "passes": passes,
        "frame_size": [w, h],
        "video_fps": round(fps, 3),
        "fps": round(1000.0 / statistics.median(wall_ms), 1),
        "cpu_ms_per_frame": round(statistics.median(cpu_ms), 3),
        "cpu_ms_per_frame_min": round(min(cpu_ms), 3),
        "cpu_ms_per_frame_passes": [round(c, 3) for c in cpu_ms],
        "wall_ms_per_frame": round(statistics.median(wall_ms), 3),
        "face_found_pct": round(100.0 * faces / n, 2),
        "peak_rss_mb": round(peak_mb, 1),
        # The frames decoded up front for the benchmark are in the peak; a live pipeline holds one or two.
        "frames_held_mb": round(held_mb, 1),
        "peak_rss_without_frames_mb": round(peak_mb - held_mb, 1),
        "stages": stages,
        # the eye stage runs once per frame for both eyes
        "eye_ms_per_eye": round(stages["eyes"]["p50_ms"] / 2.0, 4) if "eyes" in stages else None,
        "emotion_ms_per_face": stages["emotion"]["p50_ms"] if "emotion" in stages else None,
        "models": model_invokes(cfg),
        "runtime": {
            "backend": pipeline.detector.model.backend,
            "num_threads": cfg.runtime.num_threads,
            "opencv_threads": cfg.runtime.opencv_threads,
            "normalise": cfg.vision.normalise,
            "emotion_hz": cfg.vision.emotion_hz,
        },
        "board": _board(),
    }


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


def format_table(result: dict[str, Any]) -> str:
    w, h = result["frame_size"]
    lines = [
        f"{result['frames']} frames of {w}x{h} from {Path(result['video']).name}; face found in "
        f"{result['face_found_pct']} %",
        f"session (vision, monitor, publishing): {result['cpu_ms_per_frame']:.2f} ms CPU per frame (median of "
        f"{result['passes']} passes; best {result['cpu_ms_per_frame_min']:.2f}), {result['fps']:.0f} fps",
        f"peak RSS {result['peak_rss_mb']:.0f} MB ({result['peak_rss_without_frames_mb']:.0f} MB without the "
        f"{result['frames_held_mb']:.0f} MB of frames held for the benchmark)",
        "",
        f"{'stage':<12}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'count':>8}",
    ]
    for name, row in result["stages"].items():
        lines.append(f"{name:<12}{row['p50_ms']:>9.3f}{row['p95_ms']:>9.3f}{row['p99_ms']:>9.3f}{row['count']:>8}")
    if result.get("eye_ms_per_eye") is not None:
        lines.append(f"eye state: {result['eye_ms_per_eye']:.3f} ms per eye (p50, in the pipeline)")
    if result.get("emotion_ms_per_face") is not None:
        lines.append(f"emotion: {result['emotion_ms_per_face']:.3f} ms per face (p50, alignment + model)")
    lines += ["", "model alone (p50 ms per run):"]
    for name, row in result["models"].items():
        lines.append(f"  {name:<16}" + "  ".join(f"{k.split('_')[1]} thr {v:.3f}" for k, v in row.items()))
    voice = result.get("voice")
    if voice:
        lines += ["", f"voice: {voice['segments']} segments of {voice['segment_s']:g} s, {voice['classified_pct']} % "
                  f"classified: {voice['ms_per_classified_segment']} ms per classified segment (VAD, MFCC, pitch, "
                  f"model), {voice['ms_per_skipped_segment']} ms per skipped one (p50)"]
    physio = result.get("physio")
    if physio:
        model = "with" if physio["stress_model"] else "without"
        lines += ["", f"physio: {physio['ms_per_estimate']} ms per estimate ({physio['window_s']:g} s of "
                  f"{physio['ecg_rate_hz']:g} Hz ECG + GSR, {model} the stress model; p50, p95 "
                  f"{physio['ms_per_estimate_p95']}), {physio['ms_per_second_fed']} ms per second of samples fed"]
    return "\n".join(lines)

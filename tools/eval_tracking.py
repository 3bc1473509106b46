#!/usr/bin/env python3
"""What reusing still landmarks (vision.still_reuse_max, edge/vision/stillness.py) changes, frame by frame.

    .venv/bin/python tools/eval_tracking.py CLIP... [--reuse-max N] [--threshold G] [--json OUT]

Each clip runs twice through the vision stage: FaceMesh on every tracked frame (the reference), and with the reuse
settings (default: the config's). Per clip and over all: the share of frames whose landmarks were reused, CPU ms per
frame of each run, and the per-frame differences of what the monitor reads: mean EAR of both eyes, yaw and pitch,
each eye's closed probability, and the eyes-closed decision (p > 0.5) agreement. The run passes when every clip is
within TOLERANCE; exit status 1 otherwise. Frames where only one run sees the face are counted apart.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from edge.config import Config  # noqa: E402
from edge.runtime import configure_process  # noqa: E402
from edge.sources.recording import open_replay  # noqa: E402
from edge.types import FaceObservation, Frame  # noqa: E402
from edge.vision.pipeline import VisionPipeline  # noqa: E402

# What may move, per frame, for the change to count as "results unchanged": far below what the monitor's rules
# resolve (an eye is closed below ~60 % of its open EAR, ~0.1; off-road starts 20-30 degrees from ahead).
TOLERANCE = {"ear_p95": 0.02, "yaw_p95_deg": 2.0, "pitch_p95_deg": 2.0, "closed_prob_p95": 0.05,
             "eyes_closed_agreement": 0.995, "presence_disagreement": 0.005}


@dataclass
class ClipResult:
    clip: str
    frames: int
    reused_pct: float
    cpu_ms_reference: float
    cpu_ms_reuse: float
    ear_p95: float
    ear_max: float
    yaw_p95_deg: float
    pitch_p95_deg: float
    closed_prob_p95: float
    eyes_closed_agreement: float
    presence_disagreement: float

    def failures(self) -> list[str]:
        out = [f"{k} {getattr(self, k)} > {v}" for k, v in TOLERANCE.items()
               if k not in ("eyes_closed_agreement",) and getattr(self, k) > v]
        if self.eyes_closed_agreement < TOLERANCE["eyes_closed_agreement"]:
            out.append(f"eyes_closed_agreement {self.eyes_closed_agreement} < {TOLERANCE['eyes_closed_agreement']}")
        return out


def _run(cfg: Config, frames: list[Frame]) -> tuple[list[FaceObservation], float, int]:
    pipeline = VisionPipeline.from_config(cfg)
    start = time.process_time()
    observations = [pipeline.process(frame) for frame in frames]
    return observations, (time.process_time() - start) / len(frames) * 1000.0, pipeline.reused


def compare(clip: Path, cfg: Config) -> ClipResult:
    with open_replay(clip) as source:
        frames = list(source)
    reference_cfg = cfg.model_copy(update={"vision": cfg.vision.model_copy(update={"still_reuse_max": 0})})
    reference, reference_ms, _ = _run(reference_cfg, frames)
    candidate, candidate_ms, reused = _run(cfg, frames)
    both = [(a, b) for a, b in zip(reference, candidate) if a.present and b.present]
    ear = [abs((a.ear_left + a.ear_right) - (b.ear_left + b.ear_right)) / 2 for a, b in both]
    posed = [(a.pose, b.pose) for a, b in both if a.pose is not None and b.pose is not None]
    states = [(a.eye_states, b.eye_states) for a, b in both if a.eye_states and b.eye_states]
    closed = [abs(x.closed_prob - y.closed_prob) for sa, sb in states for x, y in zip(sa, sb)]
    agree = [(x.closed_prob > 0.5) == (y.closed_prob > 0.5) for sa, sb in states for x, y in zip(sa, sb)]

    def p95(values: list[float]) -> float:
        return round(float(np.percentile(values, 95)), 4) if values else 0.0

    return ClipResult(
        clip=clip.name, frames=len(frames), reused_pct=round(100.0 * reused / len(frames), 1),
        cpu_ms_reference=round(reference_ms, 3), cpu_ms_reuse=round(candidate_ms, 3),
        ear_p95=p95(ear), ear_max=round(max(ear, default=0.0), 4),
        yaw_p95_deg=p95([abs(a.yaw - b.yaw) for a, b in posed]),
        pitch_p95_deg=p95([abs(a.pitch - b.pitch) for a, b in posed]),
        closed_prob_p95=p95(closed), eyes_closed_agreement=round(float(np.mean(agree)) if agree else 1.0, 4),
        presence_disagreement=round(sum(a.present != b.present for a, b in zip(reference, candidate)) / len(frames), 4),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("clips", nargs="+", type=Path)
    parser.add_argument("--reuse-max", type=int, help="vision.still_reuse_max (default: the config's)")
    parser.add_argument("--threshold", type=float, help="vision.still_threshold (default: the config's)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    cfg = Config()
    configure_process(cfg.runtime.opencv_threads)
    update = {k: v for k, v in (("still_reuse_max", args.reuse_max), ("still_threshold", args.threshold))
              if v is not None}
    cfg = cfg.model_copy(update={"vision": cfg.vision.model_copy(update=update)})
    results = [compare(clip, cfg) for clip in args.clips]
    print(f"still_reuse_max {cfg.vision.still_reuse_max}, still_threshold {cfg.vision.still_threshold:g}; "
          f"tolerance {TOLERANCE}")
    print(f"{'clip':32}{'reused':>8}{'ms ref':>8}{'ms new':>8}{'EAR p95':>9}{'yaw p95':>9}{'pitch p95':>10}"
          f"{'closed p95':>11}{'agree':>8}")
    for r in results:
        print(f"{r.clip[:31]:32}{r.reused_pct:>7.1f}%{r.cpu_ms_reference:>8.2f}{r.cpu_ms_reuse:>8.2f}{r.ear_p95:>9.4f}"
              f"{r.yaw_p95_deg:>9.2f}{r.pitch_p95_deg:>10.2f}{r.closed_prob_p95:>11.3f}{r.eyes_closed_agreement:>8.4f}"
              + ("" if not r.failures() else "  FAIL: " + "; ".join(r.failures())))
    failed = [r for r in results if r.failures()]
    print(f"{len(results) - len(failed)} of {len(results)} clips within the tolerance")
    if args.json:
        args.json.write_text(json.dumps({"tolerance": TOLERANCE, "clips": [asdict(r) for r in results]}, indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

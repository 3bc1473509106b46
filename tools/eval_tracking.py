#!/usr/bin/env python3
"""What reusing still landmarks (vision.still_reuse_max, edge/vision/stillness.py) changes, frame by frame.

    .venv/bin/python tools/eval_tracking.py CLIP... [--reuse-max N] [--threshold G] [--open-below P] [--json OUT]

Each clip runs through the vision stage four times: FaceMesh on every tracked frame (the reference), with the reuse
settings (default: the config's), and the reference again started one and two frames later (the floor). Per clip:
the share of frames whose landmarks were reused, CPU ms per frame of the reference and the reuse, and how far what
the monitor reads moves from the reference, frame by frame: mean EAR of both eyes, yaw and pitch, each eye's closed
probability, the eyes-closed decision (p > 0.5) agreement and the presence agreement.

The floor is the tracker's own sensitivity. The landmark ROI of each frame comes from the previous frame's
landmarks, so any difference, a reused frame or a track that began one frame later, is carried on; where the
eye-state model sits near 0.5 (glasses, sunglasses) decisions then flip. A clip passes when each measure is within
the absolute TOLERANCE, or moves no more than the wider of the two floor runs: then the change is indistinguishable
from starting the same clip a frame later, an equally valid run. Exit status 1 when a clip fails.
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
             "eyes_closed_agreement": 0.995, "presence_agreement": 0.995}
AGREEMENTS = ("eyes_closed_agreement", "presence_agreement")  # higher is closer; the others are distances
LATER_STARTS = (1, 2)  # the floor's runs: the same clip started this many frames later


@dataclass
class Deviation:
    """How far one run's readings are from the reference's, over the frames where both see the face."""

    ear_p95: float
    ear_max: float
    yaw_p95_deg: float
    pitch_p95_deg: float
    closed_prob_p95: float
    eyes_closed_agreement: float
    presence_agreement: float


@dataclass
class ClipResult:
    clip: str
    frames: int
    reused_pct: float
    cpu_ms_reference: float
    cpu_ms_reuse: float
    change: Deviation  # the reuse against the reference
    floor: Deviation  # the reference started 1 and 2 frames later, against the reference: the wider of the two

    def failures(self) -> list[str]:
        out = []
        for name, limit in TOLERANCE.items():
            value, floor = getattr(self.change, name), getattr(self.floor, name)
            if name in AGREEMENTS and value < min(limit, floor):
                out.append(f"{name} {value} < {limit} and < the floor's {floor}")
            elif name not in AGREEMENTS and value > max(limit, floor):
                out.append(f"{name} {value} > {limit} and > the floor's {floor}")
        return out


def _run(cfg: Config, frames: list[Frame]) -> tuple[list[FaceObservation], float, int]:
    pipeline = VisionPipeline.from_config(cfg)
    start = time.process_time()
    observations = [pipeline.process(frame) for frame in frames]
    return observations, (time.process_time() - start) / len(frames) * 1000.0, pipeline.reused


def deviation(reference: list[FaceObservation], other: list[FaceObservation]) -> Deviation:
    both = [(a, b) for a, b in zip(reference, other) if a.present and b.present]
    ear = [abs((a.ear_left + a.ear_right) - (b.ear_left + b.ear_right)) / 2 for a, b in both]
    posed = [(a.pose, b.pose) for a, b in both if a.pose is not None and b.pose is not None]
    states = [(a.eye_states, b.eye_states) for a, b in both if a.eye_states and b.eye_states]
    closed = [abs(x.closed_prob - y.closed_prob) for sa, sb in states for x, y in zip(sa, sb)]
    agree = [(x.closed_prob > 0.5) == (y.closed_prob > 0.5) for sa, sb in states for x, y in zip(sa, sb)]

    def p95(values: list[float]) -> float:
        return round(float(np.percentile(values, 95)), 4) if values else 0.0

    return Deviation(
        ear_p95=p95(ear), ear_max=round(max(ear, default=0.0), 4),
        yaw_p95_deg=p95([abs(a.yaw - b.yaw) for a, b in posed]),
        pitch_p95_deg=p95([abs(a.pitch - b.pitch) for a, b in posed]),
        closed_prob_p95=p95(closed), eyes_closed_agreement=round(float(np.mean(agree)) if agree else 1.0, 4),
        presence_agreement=round(float(np.mean([a.present == b.present for a, b in zip(reference, other)])), 4),
    )


def compare(clip: Path, cfg: Config) -> ClipResult:
    with open_replay(clip) as source:
        frames = list(source)
    reference_cfg = cfg.model_copy(update={"vision": cfg.vision.model_copy(update={"still_reuse_max": 0})})
    reference, reference_ms, _ = _run(reference_cfg, frames)
    candidate, candidate_ms, reused = _run(cfg, frames)
    floors = [deviation(reference[k:], _run(reference_cfg, frames[k:])[0]) for k in LATER_STARTS]
    return ClipResult(
        clip=clip.name, frames=len(frames), reused_pct=round(100.0 * reused / len(frames), 1),
        cpu_ms_reference=round(reference_ms, 3), cpu_ms_reuse=round(candidate_ms, 3),
        change=deviation(reference, candidate), floor=widest(floors),
    )


def widest(deviations: list[Deviation]) -> Deviation:
    """The largest distance and the lowest agreement of each measure: the spread of the equally valid runs."""
    pick = {name: min if name in AGREEMENTS else max for name in Deviation.__dataclass_fields__}
    return Deviation(**{name: f(getattr(d, name) for d in deviations) for name, f in pick.items()})


def _cells(d: Deviation) -> str:
    return (f"{d.ear_p95:>9.4f}{d.yaw_p95_deg:>9.2f}{d.pitch_p95_deg:>10.2f}{d.closed_prob_p95:>11.3f}"
            f"{d.eyes_closed_agreement:>8.4f}{d.presence_agreement:>9.4f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("clips", nargs="+", type=Path)
    parser.add_argument("--reuse-max", type=int, help="vision.still_reuse_max (default: the config's)")
    parser.add_argument("--threshold", type=float, help="vision.still_threshold (default: the config's)")
    parser.add_argument("--open-below", type=float, help="vision.still_open_below (default: the config's)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    cfg = Config()
    configure_process(cfg.runtime.opencv_threads)
    update = {k: v for k, v in (("still_reuse_max", args.reuse_max), ("still_threshold", args.threshold),
                                ("still_open_below", args.open_below)) if v is not None}
    cfg = cfg.model_copy(update={"vision": cfg.vision.model_copy(update=update)})
    results = [compare(clip, cfg) for clip in args.clips]
    vision = cfg.vision
    print(f"still_reuse_max {vision.still_reuse_max}, still_threshold {vision.still_threshold:g}, still_open_below "
          f"{vision.still_open_below:g}; tolerance {TOLERANCE}, or within the floor (the clip 1 or 2 frames later)")
    print(f"{'clip':32}{'run':>6}{'reused':>8}{'CPU ms':>8}{'EAR p95':>9}{'yaw p95':>9}{'pitch p95':>10}"
          f"{'closed p95':>11}{'agree':>8}{'present':>9}")
    for r in results:
        print(f"{r.clip[:31]:32}{'reuse':>6}{r.reused_pct:>7.1f}%{r.cpu_ms_reuse:>8.2f}{_cells(r.change)}"
              + ("" if not r.failures() else "  FAIL: " + "; ".join(r.failures())))
        print(f"{'':32}{'floor':>6}{'':>8}{r.cpu_ms_reference:>8.2f}{_cells(r.floor)}")
    failed = [r for r in results if r.failures()]
    print(f"{len(results) - len(failed)} of {len(results)} clips within the tolerance or the floor")
    if args.json:
        args.json.write_text(json.dumps({"tolerance": TOLERANCE, "clips": [asdict(r) for r in results]}, indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

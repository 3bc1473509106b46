#!/usr/bin/env python3
"""Eyes visible, covered or closed on real drivers: the realclips (../shared/datasets/realclips) through the real
vision pipeline in-process, then the eye decision and the closure rule twice on the same observations: `before`
(no dark-lens or downcast cue, as the project was) and `after` (the config's [eyes]).

    .venv/bin/python tools/eye_visibility_clips.py [--data DIR] [--clips NAME ...] [--config FILE]

Per clip: % of face frames with an eye visible, why the others are not (reasons), closures >= 1 s (microsleeps)
found against the labelled eyes_closed intervals (ge_1s), and false ones (>= 1 s, overlapping no labelled closure),
as frame spans. Unlabelled clips (unlabelled/) get the visible % and every closure >= 1 s listed. Also the added
cost per frame of the new cues (the surround measurement in the vision stage). The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edge.config import Config, EyesConfig, load_config  # noqa: E402
from edge.monitor.drowsiness import DrowsinessMonitor, DrowsinessSample  # noqa: E402
from edge.monitor.eyes import EyeOpenness  # noqa: E402
from edge.sources.recording import open_replay  # noqa: E402
from edge.types import FaceObservation  # noqa: E402
from edge.vision.eyes import surrounds  # noqa: E402
from edge.vision.pipeline import VisionPipeline  # noqa: E402
from edge.vision.preprocess import to_gray  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "datasets" / "realclips"


def legacy(eyes: EyesConfig) -> EyesConfig:
    """The decision as it was: no dark-lens cue (threshold 0) and no downcast gating (a 90° drop never happens)."""
    return eyes.model_copy(update={"max_lens_surround": 0.0, "downcast_pitch_deg": 90.0})


def observe(path: Path, cfg: Config) -> tuple[list[FaceObservation], float]:
    """Every frame's observation, and the mean ms per face frame that the surround measurement took."""
    pipeline = VisionPipeline.from_config(cfg)
    observations: list[FaceObservation] = []
    spent, measured = 0.0, 0
    with open_replay(path) as source:
        for frame in source:
            obs = pipeline.process(frame)
            if obs.present and obs.landmarks is not None:
                gray = to_gray(frame.image)
                started = time.perf_counter()
                surrounds(gray, obs.landmarks)  # timed again apart from the pipeline (it ran there too)
                spent += time.perf_counter() - started
                measured += 1
            observations.append(obs)
    return observations, 1000.0 * spent / max(1, measured)


def closures(observations: list[FaceObservation], cfg: Config, eyes_cfg: EyesConfig) -> dict[str, Any]:
    """The eye decision and the closure rule over one clip: visible share, reasons, closures >= microsleep_s."""
    eyes, drowsiness = EyeOpenness(eyes_cfg), DrowsinessMonitor(cfg.drowsiness, eyes_cfg)
    faces = visible = 0
    reasons: Counter[str] = Counter()
    spans: list[list[int]] = []  # [first, last] frame of each closure that reached microsleep_s
    current: list[int] | None = None  # the closure going on, if it reached microsleep_s
    frame_at = {obs.t: obs.frame_index for obs in observations}
    for obs in observations:
        reading = eyes.step(obs)
        pitch = obs.pose.pitch if obs.present and obs.pose else None
        state = drowsiness.step(DrowsinessSample(obs.t, reading.closed_prob, obs.mar if obs.present else None, pitch))
        if obs.present:
            faces += 1
            visible += reading.visible
            if not reading.visible:
                reasons[str(reading.reason)] += 1
        if any(e.kind == "microsleep" for e in state.episodes):
            current = [frame_at.get(obs.t - state.closure_s, obs.frame_index), obs.frame_index]
            spans.append(current)
        if current is not None and state.eyes_closed:
            current[1] = obs.frame_index
        elif not state.eyes_closed:
            current = None
    return {
        "face_frames": faces,
        "visible_pct": round(100.0 * visible / faces, 1) if faces else None,
        "not_visible": dict(reasons.most_common()),
        "closures": spans,
    }


def score(result: dict[str, Any], labelled: list[tuple[int, int]]) -> dict[str, Any]:
    """Closures found (a closure >= 1 s overlapping the labelled interval) and false ones, in frames."""
    frames = result.pop("closures")
    hit = [any(a <= e and b >= s for a, b in frames) for s, e in labelled]
    false = [[a, b] for a, b in frames if not any(a <= e and b >= s for s, e in labelled)]
    return {**result, "found": sum(hit), "labelled": len(labelled), "false_closures": false}


def run(data: Path, names: list[str] | None, cfg: Config) -> dict[str, Any]:
    labels = {entry["clip"]: entry for entry in json.loads((data / "labels.json").read_text())}
    clips = [(name, labels.get(name)) for name in labels]
    clips += [(f"unlabelled/{p.name}", None) for p in sorted((data / "unlabelled").glob("*")) if p.is_file()]
    if names:
        clips = [(n, e) for n, e in clips if n in names or Path(n).name in names]
    per_clip: dict[str, Any] = {}
    costs = []
    for name, entry in clips:
        observations, ms = observe(data / name, cfg)
        costs.append(ms)
        closed = [(e["start_frame"], e["end_frame"]) for e in (entry or {}).get("events", [])
                  if e["kind"] == "eyes_closed" and e.get("ge_1s")]
        per_clip[name] = {
            "eyewear": entry["eyewear"] if entry else None,
            "before": score(closures(observations, cfg, legacy(cfg.eyes)), closed),
            "after": score(closures(observations, cfg, cfg.eyes), closed),
        }
    return {"clips": per_clip, "surround_ms_per_frame": round(sum(costs) / max(1, len(costs)), 4)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--clips", nargs="*", help="clip names (default: every clip, labelled and unlabelled)")
    parser.add_argument("--config", type=Path, help="a dms.toml (default: the built-in defaults)")
    args = parser.parse_args()
    if not (args.data / "labels.json").is_file():
        print(f"error: no labels.json in {args.data}", file=sys.stderr)
        return 2
    cfg = load_config(args.config) if args.config else Config()
    result = run(args.data, args.clips, cfg)
    print(f"{'clip':42} {'':6} {'visible%':>8} {'found':>7} {'false >= 1 s (frames)':24} not visible")
    for name, both in result["clips"].items():
        for when in ("before", "after"):
            r = both[when]
            found = f"{r['found']}/{r['labelled']}" if r["labelled"] else "-"
            print(f"{name if when == 'before' else '':42} {when:6} {r['visible_pct']!s:>8} {found:>7} "
                  f"{json.dumps(r['false_closures']):24} {json.dumps(r['not_visible'])}")
    print(f"surround cue: {result['surround_ms_per_frame']:.3f} ms per face frame")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

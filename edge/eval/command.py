"""`dms eval RUN_OR_VIDEO --labels labels.json`: which clips to score, with which config, run each through the
product (or read its RUN.jsonl), score it, print the table and the JSON line. The CLI's side of edge.eval."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from edge.config import Config, load_config
from edge.eval.detections import detect, merge
from edge.eval.labels import ClipLabels, LabelsError, find_clip, load_labels
from edge.eval.report import ClipResult, clip_json, format_table, score_clip, totals_json
from edge.eval.runs import JSONL_LIMITS, RunInputError, StateRecorder, read_jsonl, thresholds
from edge.exits import EXIT_OK
from edge.monitor.driver import DriverState
from edge.replay_command import ended
from edge.skips import Skip

if TYPE_CHECKING:
    from edge.replay import ReplaySummary

# (video or drive folder, its config, called with every DriverState) -> the replay's summary (edge.replay_command)
ReplayClip = Callable[[Path, Config, Callable[[DriverState], None]], "ReplaySummary"]


class EvalInputError(Exception):
    """Bad input (a missing clip, a clip not in the labels, malformed labels): exit 2."""


@dataclass(frozen=True, slots=True)
class Job:
    labels: ClipLabels
    path: Path
    config: Path | None  # the clip's own config from --config-dir, else the --config one


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", metavar="RUN_OR_VIDEO",
                   help="a video, a drive folder, a RUN.jsonl of dms replay --jsonl, or a folder of labelled clips")
    p.add_argument("--labels", required=True, metavar="FILE", help="labels.json (docs/eval.md)")
    p.add_argument("--clip", metavar="NAME", help="the labelled clip this input is (default: its file name); "
                   "with a folder, score only this clip")
    p.add_argument("--config-dir", metavar="DIR", help="per-clip configs: DIR/<clip stem>.toml when it exists")
    p.add_argument("--json", metavar="OUT", help="also write the results as indented JSON")


def plan(args: argparse.Namespace, labels: dict[str, ClipLabels]) -> list[Job]:
    path = Path(args.path)
    if not path.exists():
        raise EvalInputError(f"{path}: no such file or folder")
    config_dir = Path(args.config_dir) if args.config_dir else None
    if config_dir is not None and not config_dir.is_dir():
        raise EvalInputError(f"--config-dir {config_dir}: not a folder")

    def job(entry: ClipLabels, clip_path: Path) -> Job:
        own = config_dir / f"{entry.stem}.toml" if config_dir is not None else None
        return Job(entry, clip_path, own if own is not None and own.is_file() else None)

    known = ", ".join(sorted(labels)) or "none"
    if path.is_dir() and not (path / "drive.json").exists():  # a folder of clips: every labelled one
        entries = list(labels.values())
        if args.clip:
            entry = find_clip(labels, args.clip)
            if entry is None:
                raise EvalInputError(f"--clip {args.clip}: not in {args.labels} (labelled: {known})")
            entries = [entry]
        missing = [e.clip for e in entries if not (path / e.clip).is_file()]
        if missing:
            raise EvalInputError(f"{path}: missing labelled clip(s): {', '.join(missing)}")
        return [job(e, path / e.clip) for e in entries]
    name = args.clip or path.name
    entry = find_clip(labels, name)
    if entry is None:
        raise EvalInputError(f"{name}: not in {args.labels} (labelled: {known}); name it with --clip")
    return [job(entry, path)]


def run_eval(args: argparse.Namespace, base: Config, replay_clip: ReplayClip) -> int:
    started = time.monotonic()
    try:
        labels = load_labels(args.labels)
    except LabelsError as err:
        raise EvalInputError(str(err)) from None
    jobs = plan(args, labels)
    results: list[ClipResult] = []
    configs: dict[str, str] = {}
    status = EXIT_OK
    for job in jobs:
        cfg = load_config(job.config) if job.config is not None else base
        configs[job.labels.clip] = str(job.config or args.config or "defaults")
        result, skipped = score_one(job, cfg, replay_clip)
        results.append(result)
        status = max(status, ended(job.path, skipped))
    out = {"clips": [clip_json(r) for r in results], "totals": totals_json(results), "configs": configs,
           "run_s": round(time.monotonic() - started, 1)}
    print(format_table(results))
    print(f"\nscored {len(results)} clip(s) in {out['run_s']:.1f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")
    sys.stdout.flush()
    print(json.dumps(out, separators=(",", ":")))
    return status


def score_one(job: Job, cfg: Config, replay_clip: ReplayClip) -> tuple[ClipResult, tuple[Skip, ...]]:
    """The clip's scores, and what its replay skipped (in a RUN.jsonl: what the replay that wrote it skipped),
    which is also among the result's limits."""
    entry, path = job.labels, job.path
    history_s = cfg.drowsiness.history_s
    if path.suffix.lower() == ".jsonl":
        try:
            run = read_jsonl(path, entry.clip, cfg, entry.fps)
        except RunInputError as err:
            raise EvalInputError(str(err)) from None
        found = detect(run.samples, thresholds(cfg))
        closures = merge([*found.by_kind["eyes_closed"], *run.closures_from_alerts])
        found = dataclasses.replace(found, by_kind={**found.by_kind, "eyes_closed": closures})
        limits = [JSONL_LIMITS, *(f"the replay skipped {s.text()}" for s in run.skipped)]
        return score_clip(entry, found, run.alerts, "jsonl", len(run.samples), history_s, None, limits), run.skipped
    recorder = StateRecorder(entry.clip, cfg)
    skipped = replay_clip(path, cfg, recorder).skipped
    limits = [f"the replay skipped {s.text()}" for s in skipped]
    if len(recorder.times) != entry.frames:
        limits.append(f"replayed {len(recorder.times)} frames, the labels say {entry.frames}: labels may be off")
    found = detect(recorder.samples(entry.fps), thresholds(cfg))
    return score_clip(entry, found, recorder.alerts(), "replay", len(recorder.times), history_s, recorder.times,
                      limits), skipped

"""`dms replay`, and the in-process replay that `dms eval`, `dms report` and `dms demo` share: open the recording,
build the session, open the outputs, replay, close every part whatever another's close raised, and say what the
replay skipped (edge/skips.py): one line on stderr, the last line of `--jsonl`, exit status 3 (edge/exits.py)."""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import logging
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from edge.closing import close_all
from edge.config import Config
from edge.exits import EXIT_OK, EXIT_SKIPPED, UsageError
from edge.skips import Skip, skips_line

if TYPE_CHECKING:
    from edge.monitor.driver import DriverState
    from edge.replay import ReplaySummary
    from edge.sinks.base import Sink
    from edge.sources.recording import ReplaySource

log = logging.getLogger("edge.replay")

# Opens the outputs once the input is known good, one at a time: those yielded before one fails are still closed.
OpenSinks = Callable[["ReplaySource"], Iterable["Sink"]]


def add_strict(p: argparse.ArgumentParser) -> None:
    p.add_argument("--strict", action="store_true", help="refuse a drive's sensor file (physio.csv, speed.csv) at "
                   "its first malformed line (exit 2, naming file:line) instead of skipping and reporting it")


def pace_of(args: argparse.Namespace) -> float:
    """--pace, or --speed, its deprecated alias (speed is the vehicle's elsewhere)."""
    if args.speed is not None:
        if args.pace is not None:
            raise UsageError("--speed is the old name of --pace: give only --pace")
        print("warning: --speed is deprecated and will be removed: use --pace", file=sys.stderr)
    pace = args.pace if args.pace is not None else args.speed if args.speed is not None else 0.0
    if pace < 0:
        raise UsageError("--pace must be >= 0 (0: as fast as possible, 1: real time)")
    return pace


def _recording_id(source: ReplaySource) -> str:
    """Stable per recording and short (alert ids derive from it): a replay is reproducible, two recordings differ,
    and a long file name does not make an id that cmd/ack cannot name."""
    name = str(source.info.get("started_at") or source.path.resolve())
    return hashlib.sha256(name.encode()).hexdigest()[:12]


def replay_one(
    path: Path,
    cfg: Config,
    open_sinks: OpenSinks,
    pace: float,
    label: str = "",
    progress: bool = True,
    streams: dict[str, Path] | None = None,
    on_state: Callable[[DriverState], None] | None = None,
    strict: bool = False,
    finish: Callable[[ReplaySummary], None] | None = None,
) -> ReplaySummary:
    """Open the input and build the session first (its models, the recorded streams), so a bad path, stream or model
    fails before any output is created or truncated; then the sinks; then replay. Each modality takes its stream
    from `streams` (its replay flag), else the drive's own, if any. `finish` sees the summary, with what was
    skipped, before the sinks are closed. A part that fails to close is logged and the others are still closed;
    after a replay that went well, that failure raises RuntimeError (exit 1)."""
    from edge.modalities.base import InputError
    from edge.progress import ProgressBar
    from edge.replay import replay
    from edge.session import DriveSession, recorded_modalities
    from edge.sources.recording import RecordingError, open_replay
    from edge.stats import StageTimer
    from edge.vision.pipeline import VisionPipeline

    try:
        source = open_replay(path, default_fps=cfg.camera.fps)
    except RecordingError as err:
        raise UsageError(str(err)) from None
    sinks: list[Sink] = []
    bar: ProgressBar | None = None
    try:
        timer = StageTimer()
        recorded = {**source.streams, **(streams or {})}
        try:
            session = DriveSession(cfg, VisionPipeline.from_config(cfg, timer),
                                   recorded_modalities(recorded, timer, strict), [],
                                   f"{cfg.device_id}-{_recording_id(source)}", timer)
        except InputError as err:
            raise UsageError(str(err)) from None
        sinks.extend(open_sinks(source))
        session.publisher.sinks = sinks
        bar = drawn = ProgressBar(source.frame_count, label, enabled=progress)

        def on_frame(n: int, state: DriverState) -> None:
            drawn.update(n)
            if on_state is not None:
                on_state(state)

        summary = replay(source, session, pace, on_frame=on_frame)
        skipped = (*source.skipped(), *(s for m in session.modalities for s in m.skipped))
        summary = dataclasses.replace(summary, skipped=skipped)
        if finish is not None:
            finish(summary)
    finally:
        failed = close_all(log, str(path), [
            *([("clear the progress bar", bar.close)] if bar is not None else []),
            *((f"close output {type(sink).__name__}", sink.close) for sink in sinks),
            ("close the video", source.close),
        ])
    if failed:
        raise RuntimeError("; ".join(failed))
    return summary


def ended(path: Path | str, skipped: Iterable[Skip]) -> int:
    """The one stderr line that says what a replay skipped, if it skipped anything, and the exit status."""
    line = skips_line(skipped, str(path))
    if not line:
        return EXIT_OK
    print(f"{path}: {line}", file=sys.stderr)
    return EXIT_SKIPPED


def run_replay(args: argparse.Namespace, cfg: Config) -> int:
    """`dms replay` with `cfg` (the config, the broker of --mqtt already applied)."""
    from edge.modalities import REGISTERED
    from edge.names import REPLAY_SUMMARY
    from edge.sinks.console import ConsoleSink
    from edge.sinks.jsonl import JsonlSink
    from edge.sinks.replay_mqtt import replay_mqtt_sink

    pace = pace_of(args)
    console = not args.quiet and args.jsonl != "-"
    jsonl: list[JsonlSink] = []

    def open_sinks(source: ReplaySource) -> Iterable[Sink]:
        # The broker first: if it cannot be reached, no output file has been created or truncated yet.
        if cfg.mqtt.enabled:
            yield replay_mqtt_sink(cfg, source)
        if args.jsonl:
            jsonl.append(JsonlSink(args.jsonl))
            yield jsonl[0]
        if console:
            yield ConsoleSink()

    def finish(summary: ReplaySummary) -> None:  # the RUN.jsonl's last line; never sent over MQTT
        for sink in jsonl:
            sink.publish(REPLAY_SUMMARY, summary.payload())

    streams = {k.stream: Path(given) for k in REGISTERED if (given := getattr(args, k.replay_flag.replace("-", "_")))}
    # State lines already show progress; a bar would be drawn over them on the same terminal.
    summary = replay_one(Path(args.path), cfg, open_sinks, pace, progress=not console, streams=streams,
                         strict=args.strict, finish=finish)
    print(f"{args.path}: {summary.line()}", file=sys.stderr)
    return ended(args.path, summary.skipped)

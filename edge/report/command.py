"""`dms report RUN.jsonl|VIDEO|DRIVE_DIR [--out report.html] [--labels labels.json [--clip NAME]]`: the messages of
a run, then the page, written atomically.

A RUN.jsonl (`dms replay --jsonl`) is read as it is; a video or a drive folder is replayed in-process through the
same pipeline first (the caller passes `replay`, the CLI's), its messages kept in memory: no frame or audio is kept
or written, only what the MQTT messages carry.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge.eval.labels import LabelsError, find_clip, load_labels
from edge.names import REPLAY_SUMMARY
from edge.replay_command import ended
from edge.report.html import render
from edge.report.run import ReportInputError, build_run, read_messages
from edge.sinks.base import Sink
from edge.sinks.encoding import dumps
from edge.skips import Skip, skips_line

if TYPE_CHECKING:
    from edge.replay import ReplaySummary


class MessageCollector:
    """A sink that keeps every message as a RUN.jsonl line would hold it (the MQTT encoding: NaN as null)."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    def publish(self, topic: str, payload: dict[str, Any]) -> None:
        self.messages.append(json.loads(dumps({"topic": topic, "payload": payload})))

    def close(self) -> None:
        pass


Replay = Callable[[Path, list[Sink]], "ReplaySummary"]  # replays a video or drive folder into these sinks


def messages_of(path: Path, replay: Replay) -> tuple[list[dict[str, Any]], tuple[Skip, ...]]:
    """The run's messages, and what its replay skipped (a RUN.jsonl's: what its last line says)."""
    if path.is_file() and path.suffix == ".jsonl":
        messages = read_messages(path)
        try:
            skipped = [Skip.from_payload(s) for m in messages if m["topic"] == REPLAY_SUMMARY
                       for s in m["payload"]["skipped"]]
        except (KeyError, TypeError, ValueError) as err:
            raise ReportInputError(f"{path}: a {REPLAY_SUMMARY} line that dms replay did not write ({err})") from None
        return messages, tuple(skipped)
    collector = MessageCollector()
    summary = replay(path, [collector])
    return collector.messages, summary.skipped


def labelled_spans(labels_file: Path, clip: str) -> list[tuple[str, float, float]]:
    """(kind, start s, end s) of the clip's entry in a labels.json (dms eval's), found by file name or stem; frame k
    at k / fps. Raises ReportInputError when the file is bad or has no entry for the clip."""
    try:
        entry = find_clip(load_labels(labels_file), clip)
    except LabelsError as err:
        raise ReportInputError(str(err)) from None
    if entry is None:
        raise ReportInputError(f"{labels_file}: no entry for {clip} (name it with --clip)")
    return [(e.kind, (iv := entry.interval(e)).start, iv.end) for e in entry.events]


def write_report(path: Path, out: Path, replay: Replay, labels: Path | None = None,
                 clip: str | None = None) -> tuple[str, tuple[Skip, ...]]:
    """Make the report of `path` into `out`, with the labelled events of `labels` (for `clip`, by default the
    path's name) when given; returns a one-line description, and what the replay skipped (the page says it too).
    Raises ReportInputError."""
    spans = labelled_spans(labels, clip or path.name) if labels is not None else []  # bad labels: before a replay
    messages, skipped = messages_of(path, replay)
    run = build_run(messages, str(path))
    run.labelled = spans
    page = render(run, f"Drive report: {path.name}", f"{path} — {run.duration_s:.1f} s, {len(run.t)} state "
                  f"messages, {len(run.alerts)} alerts (dms report)" + (f"; {skips_line(skipped)}" if skipped else ""))
    out.parent.mkdir(parents=True, exist_ok=True)
    # atomic: a reader (or a browser refreshing) never sees half a page
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # as open() would make it: mkstemp's 0600 would hide it from a web server
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(page)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return f"{out}: {run.duration_s:.1f} s, {len(run.alerts)} alerts, {len(page) // 1024} KiB", skipped


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", help="a RUN.jsonl of dms replay --jsonl, a video file or a drive folder")
    p.add_argument("--out", default="report.html", metavar="FILE", help="the HTML file to write (default report.html)")
    p.add_argument("--labels", metavar="FILE", help="a labels.json of dms eval: draw the clip's labelled events")
    p.add_argument("--clip", metavar="NAME", help="the clip's name in --labels (default: the path's file name)")


def run_report(args: argparse.Namespace, replay: Replay) -> int:
    """`dms report`: 0 when written, 3 when written from a replay that skipped input. Raises ReportInputError for
    bad input (the CLI's exit code 2)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ReportInputError("needs matplotlib: pip install 'edge-dms[report]' (make venv installs it)") from None
    path = Path(args.path)
    if not path.exists():
        raise ReportInputError(f"{path}: no such file or folder")
    labels = Path(args.labels) if args.labels else None
    described, skipped = write_report(path, Path(args.out), replay, labels, args.clip)
    print(described, file=sys.stderr)
    return ended(path, skipped)

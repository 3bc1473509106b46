#!/usr/bin/env python3
"""Compare two replays of the same input (e.g. aarch64 vs x86-64) from their `dms replay --jsonl` files.

    tools/compare_runs.py REFERENCE.jsonl OTHER.jsonl [--baseline RUN.jsonl] [--time-tol S] [--exact] [--labels A,B]

Alert events must agree in order, type, kind and level, their times (t, started_at, ended_at) within --time-tol.
State messages must come for the same frames; every number within its field's tolerance (TOLERANCES: why each),
every other value (strings, booleans, counts, nulls) equal. Prints the events compared, the largest difference
per numeric field, and PASS or FAIL. --exact: every tolerance is 0, times' 1 ms (EXACT_TIME_TOL_S). Exit code 0
on PASS, 1 on FAIL, 2 when a file cannot be read.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Iterator

from edge.names import EVENTS, STATE
from edge.report.run import read_messages

# Two frames of a 24 fps clip: a closure judged one frame earlier or later moves an alert by 1/24 s.
TIME_TOL_S = 0.1
# --exact still lets times differ by 1 ms: a drive's video_ts.csv holds microseconds and messages round times to
# milliseconds, so a frame time a hair below a half millisecond (7.5074999…) may round the other way once stored.
EXACT_TIME_TOL_S = 0.001
# Messages hold rounded decimals: 7.508 - 7.507 is 0.0010000000000003 in binary floating point.
ROUNDING = 1e-9

# (pattern on the dotted field path, list indices as [*]; absolute tolerance; why). First match wins.
# The runs differ in float rounding only: XNNPACK's arm64 (NEON) and x86-64 (AVX) kernels sum in other orders and
# may round an int8 result the other way. A landmark moves by 1e-4 px, but the next frame's crop is cut from this
# frame's landmarks and warped on a 1/32 px grid, so the tracking loop turns that into whole grey levels and the
# states drift apart a little. How far is measured on x86-64 alone, changing only its kernels (XNNPACK vs TFLite's
# built-in ones, `runtime.backend = "litert-builtin"`), on the check's clip: the largest difference is in brackets.
# Each tolerance is above it with a margin, and small against what decides anything (off road at 25 deg, a closure
# from P(closed) 0.6 down to 0.4, EAR about 0.3 open and 0.17 closed). `--baseline` prints that spread each run.
TOLERANCES: tuple[tuple[str, float, str], ...] = (
    ("*.id", math.inf, "alert ids name the device, which differs between machines"),
    ("t", TIME_TOL_S, "s; frame times"),
    ("*.t", TIME_TOL_S, "s; frame times"),
    ("*started_at", TIME_TOL_S, "s; a closure may be judged a frame or two apart"),
    ("*_s", TIME_TOL_S, "s; durations counted in frames: a frame or two apart"),
    ("face.yaw", 4.0, "deg; SQPnP on the landmarks [x86 kernels: 3.0]"),
    ("face.pitch", 4.0, "deg [1.5]"),
    ("face.roll", 4.0, "deg [0.7]"),
    ("*offset", 4.0, "deg; head pose against the road-ahead pose, as yaw"),
    ("*.road_yaw", 4.0, "deg; as yaw"),
    ("*.road_pitch", 4.0, "deg; as yaw"),
    ("face.size_px", 4.0, "px; the face box from the landmarks [1.2]"),
    ("eyes.ear_*", 0.03, "EAR [0.011]"),
    ("mouth.mar", 0.04, "MAR [0.021]"),
    ("emotion.window_distribution.*", 0.1, "share of the window's top classes: a near tie may go either way"),
    ("drowsiness.kss", 0.3, "KSS = 3 + 4 PERCLOS / 0.15: the PERCLOS tolerance times 27 [0]"),
    ("eyes.perclos", 0.02, "share of closed time in 10 s: five frames [0]"),
    ("eyes.blink_rate_per_min", 6.0, "one blink more or less in a 10 s window [0]"),
    ("*", 0.1, "probability, score or quality in [0, 1] [at most 0.08: face quality]"),
)


def tolerance(path: str) -> tuple[float, str]:
    for pattern, tol, why in TOLERANCES:
        if fnmatchcase(path, pattern):
            return tol, why
    raise AssertionError("the last pattern matches every path")


def read_run(path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(state payloads, event payloads) in file order. Raises ValueError naming the line."""
    states: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for message in read_messages(path):
        {STATE: states, EVENTS: events}.get(message["topic"], []).append(message["payload"])
    return states, events


def flatten(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from flatten(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for item in value:
            yield from flatten(item, f"{path}[*]")
    else:
        yield path, value


def _is_number(value: Any) -> bool:
    return isinstance(value, float) or (isinstance(value, int) and not isinstance(value, bool))


@dataclass
class FieldDiff:
    tol: float
    why: str
    largest: float = 0.0
    where: float | None = None  # the state's t where the largest difference is


@dataclass
class Report:
    exact: bool = False
    events: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    numeric: dict[str, FieldDiff] = field(default_factory=dict)


def _pairs(path: str, a: Any, b: Any) -> Iterator[tuple[str, Any, Any]]:
    """Leaves of a and b side by side; where their shapes differ (another number of active alerts, a null for an
    object), the two whole values."""
    left, right = list(flatten(a, path)), list(flatten(b, path))
    if [p for p, _ in left] == [p for p, _ in right]:
        yield from ((p, x, y) for (p, x), (_, y) in zip(left, right))
    else:  # different shapes (e.g. a different number of active alerts): compare as whole values
        yield path or "payload", a, b


def _compare_value(report: Report, path: str, a: Any, b: Any, t: float) -> None:
    tol, why = tolerance(path)
    if tol == math.inf:
        return
    if report.exact:  # the rows with TIME_TOL_S are the times
        tol, why = (EXACT_TIME_TOL_S, "--exact: a time") if tol == TIME_TOL_S else (0.0, "--exact")
    if isinstance(a, float) and _is_number(b) or isinstance(b, float) and _is_number(a):
        diff = report.numeric.setdefault(path, FieldDiff(tol, why))
        d = abs(a - b)
        if d > diff.largest:
            diff.largest, diff.where = d, t
        if d > tol + ROUNDING:
            report.failures.append(f"state t={t}: {path} {a} vs {b} (|diff| {d:.4g} > {tol:g}: {why})")
    elif a != b:
        report.failures.append(f"state t={t}: {path} {a!r} vs {b!r}")


def compare_states(report: Report, a: list[dict[str, Any]], b: list[dict[str, Any]]) -> None:
    if len(a) != len(b):
        report.failures.append(f"state messages: {len(a)} vs {len(b)}")
    for sa, sb in zip(a, b):
        t = sa.get("t")
        if sa.get("frame") != sb.get("frame"):
            report.failures.append(f"state t={t}: frame {sa.get('frame')} vs {sb.get('frame')}")
            continue
        for key in sorted(set(sa) | set(sb)):
            for path, x, y in _pairs(key, sa.get(key), sb.get(key)):
                _compare_value(report, path, x, y, t)


def compare_events(report: Report, a: list[dict[str, Any]], b: list[dict[str, Any]], time_tol: float) -> None:
    if len(a) != len(b):
        report.failures.append(f"events: {len(a)} vs {len(b)}")
    for n, (ea, eb) in enumerate(zip(a, b), 1):
        same = all(ea.get(k) == eb.get(k) for k in ("type", "kind", "level"))
        times = {k: (ea.get(k), eb.get(k)) for k in ("t", "started_at", "ended_at")}
        worst = 0.0
        for key, (x, y) in times.items():
            if (x is None) != (y is None):
                same = False
            elif x is not None:
                worst = max(worst, abs(x - y))
        ok = same and worst <= time_tol + ROUNDING
        line = (f"{n:3d} {ea.get('type')!s:6} {ea.get('kind')!s:20} {ea.get('level')!s:9} "
                f"t {ea.get('t')} vs {eb.get('t')}  largest time diff {worst:.3f} s  {'ok' if ok else 'DIFFERENT'}")
        report.events.append(line)
        if not ok:
            report.failures.append(f"event {n}: {_event_line(ea)} vs {_event_line(eb)}")


def _event_line(e: dict[str, Any]) -> str:
    return f"{e.get('type')} {e.get('kind')} {e.get('level')} t={e.get('t')} " \
           f"started_at={e.get('started_at')} ended_at={e.get('ended_at')}"


def compare(a: Path, b: Path, time_tol: float = TIME_TOL_S, exact: bool = False) -> Report:
    (states_a, events_a), (states_b, events_b) = read_run(a), read_run(b)
    report = Report(exact)
    compare_events(report, events_a, events_b, EXACT_TIME_TOL_S if exact else time_tol)
    compare_states(report, states_a, states_b)
    if not states_a:
        report.failures.append(f"{a}: no state messages")
    return report


def _print_fields(report: Report, baseline: Report | None) -> None:
    base = baseline.numeric if baseline else {}
    shown = [p for p in report.numeric if report.numeric[p].largest > 0 or (p in base and base[p].largest > 0)]
    ratio = {p: report.numeric[p].largest / report.numeric[p].tol if report.numeric[p].tol else math.inf for p in shown}
    for path in sorted(shown, key=lambda p: -ratio[p] if report.numeric[p].largest else 0):
        d = report.numeric[path]
        spread = f"[{base[path].largest:.4g}]" if path in base else ""
        print(f"{path:36s} {d.largest:8.4g} at t={d.where if d.where is not None else '-':<7} {spread:>9}  "
              f"tol {d.tol:<5g} {d.why}")
    print(f"identical in both runs: {len(report.numeric) - len(shown)} numeric fields")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("reference", type=Path)
    parser.add_argument("other", type=Path)
    parser.add_argument("--time-tol", type=float, default=TIME_TOL_S, help=f"s (default {TIME_TOL_S})")
    parser.add_argument("--exact", action="store_true", help="every tolerance 0: the runs must be the same")
    parser.add_argument("--baseline", type=Path, metavar="RUN.jsonl",
                        help="a third run of the same input (the reference's machine with other kernels): its "
                             "largest difference from the reference is printed in brackets beside each field")
    parser.add_argument("--labels", default="A,B", help="names of the two runs in the output (default A,B)")
    args = parser.parse_args(argv)
    la, _, lb = args.labels.partition(",")
    try:
        report = compare(args.reference, args.other, args.time_tol, args.exact)
        baseline = compare(args.reference, args.baseline, args.time_tol, args.exact) if args.baseline else None
    except (OSError, ValueError) as err:
        print(f"compare_runs: {err}", file=sys.stderr)
        return 2
    print(f"== alert events ({la} vs {lb}; times within {EXACT_TIME_TOL_S if args.exact else args.time_tol:g} s) ==")
    print("\n".join(report.events) or "(no events in either run)")
    print(f"== largest state difference per numeric field ({la} vs {lb}"
          + (f"; [{la} vs {args.baseline.name}]" if baseline else "") + "), the nearest to its tolerance first ==")
    _print_fields(report, baseline)
    for line in report.failures[:50]:
        print(f"FAIL {line}")
    if len(report.failures) > 50:
        print(f"... and {len(report.failures) - 50} more")
    if baseline and baseline.failures:
        # Not the other run's fault: the pipeline's own spread has outgrown a tolerance, which needs a new look.
        print(f"WARNING: {args.baseline.name} differs from {la} beyond the tolerances ({len(baseline.failures)}: "
              f"first {baseline.failures[0]}): TOLERANCES no longer cover the pipeline's own spread")
    print(f"{'PASS' if not report.failures else 'FAIL'}: {len(report.events)} events, "
          f"{len(report.numeric)} numeric state fields compared, {len(report.failures)} differences over tolerance")
    return 0 if not report.failures else 1


if __name__ == "__main__":
    sys.exit(main())

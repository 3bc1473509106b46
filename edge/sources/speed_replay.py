"""Replay of a drive's vehicle speed: `speed.csv` (docs/recording.md), `t_s,speed_kmh` on the drive clock.

A speed log comes from a CAN or GNSS logger, where a garbled line is common and says nothing about the rest of the
drive: a malformed line (wrong column count, not a number, a speed that is not one, a time going back) is counted
and skipped, and the replay reports it (edge/skips.py); with `strict` the first one raises RecordingError naming
the file and line instead. A file that is not a speed log at all (unreadable, a different header) always raises.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from edge.skips import LineSkips, Skip
from edge.sources.recording import RecordingError
from edge.sources.speed import SpeedReading, valid_speed

HEADER = ("t_s", "speed_kmh")


def read_speed_csv(path: str | Path, strict: bool = False) -> tuple[list[SpeedReading], Skip | None]:
    """The file's readings in time order, and what was skipped as malformed."""
    path = Path(path)
    readings: list[SpeedReading] = []
    skipped = LineSkips(str(path))
    try:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            header = tuple(c.strip() for c in next(reader, []))
            if header != HEADER:
                raise RecordingError(f"{path}:1: header must be {','.join(HEADER)} (got {','.join(header)!r})")
            for row in reader:
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                problem = _problem(row, readings)
                if problem is None:
                    readings.append(SpeedReading(float(row[0]), float(row[1])))
                elif strict:
                    raise RecordingError(f"{path}:{reader.line_num}: {problem} (--strict)")
                else:
                    skipped.add(reader.line_num, readings[-1].t if readings else 0.0, problem)
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise RecordingError(f"{path}: cannot read: {err}") from None
    return readings, skipped.skip()


def _problem(row: list[str], before: list[SpeedReading]) -> str | None:
    if len(row) != len(HEADER):
        return f"expected {len(HEADER)} columns (got {len(row)})"
    try:
        t, speed = float(row[0]), float(row[1])
    except ValueError:
        return f"not a number ({','.join(row)!r})"
    if not math.isfinite(t):
        return f"t_s must be finite ({row[0]!r})"
    if valid_speed(speed) is None:
        return f"speed_kmh is not a speed ({row[1]!r})"
    if before and t < before[-1].t:
        return f"t_s {t} goes back in time (previous {before[-1].t})"
    return None

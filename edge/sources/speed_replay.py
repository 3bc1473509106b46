"""Replay of a drive's vehicle speed: `speed.csv` (docs/recording.md), `t_s,speed_kmh` on the drive clock.

A speed log comes from a CAN or GNSS logger, where a garbled line is common and says nothing about the rest of the
drive: a malformed line (wrong column count, not a number, a speed that is not one, a time going back) is skipped
with a warning naming the file and line, and counted. Only a file that is not a speed log at all (unreadable, a
different header) refuses the replay.
"""

from __future__ import annotations

import csv
import logging
import math
from pathlib import Path

from edge.sources.recording import RecordingError
from edge.sources.speed import SpeedReading, valid_speed

log = logging.getLogger("edge.speed")

HEADER = ("t_s", "speed_kmh")
_WARNED_LINES = 10  # then one summary line: a log full of garbage must not flood the output


def read_speed_csv(path: str | Path) -> tuple[list[SpeedReading], int]:
    """The file's readings in time order, and how many lines were skipped as malformed."""
    path = Path(path)
    readings: list[SpeedReading] = []
    skipped = 0
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
                    continue
                skipped += 1
                if skipped <= _WARNED_LINES:
                    log.warning("%s:%d: %s: line skipped", path, reader.line_num, problem)
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise RecordingError(f"{path}: cannot read: {err}") from None
    if skipped > _WARNED_LINES:
        log.warning("%s: %d malformed lines skipped in all", path, skipped)
    return readings, skipped


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

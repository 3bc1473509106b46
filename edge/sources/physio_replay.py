"""Replay of a drive's physiology: `physio.csv` (docs/recording.md, docs/sensors.md) as PhysioSamples.

The file's first column is `t_s` (seconds on the drive clock, which is the pipeline clock in replay); the `ecg`
and `gsr` columns are read by name wherever they are, and other columns are ignored. An empty cell means that
channel has no value at that time; an ecg cell `!` means the leads were off. Malformed lines raise
RecordingError naming the file and line.
"""

from __future__ import annotations

import csv
from pathlib import Path

from edge.sources.recording import RecordingError, csv_number
from edge.sources.serial_lines import LEADS_OFF, PhysioSample

CHANNELS = ("ecg", "gsr")


def read_physio_csv(path: str | Path) -> list[PhysioSample]:
    """Every sample of a physio.csv, in file order; `t` on the drive clock, `seq` None."""
    path = Path(path)
    samples: list[PhysioSample] = []
    try:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            header = [h.strip() for h in next(reader, [])]
            if not header or header[0] != "t_s":
                raise RecordingError(f"{path}:1: header must start with t_s (got {','.join(header)!r})")
            columns = {name: header.index(name) for name in CHANNELS if name in header}
            if not columns:
                raise RecordingError(f"{path}:1: header names no channel: expected ecg and/or gsr")
            for row in reader:
                line = reader.line_num
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                if len(row) != len(header):
                    raise RecordingError(f"{path}:{line}: expected {len(header)} columns (got {len(row)})")
                t = csv_number(row[0], path, line, "t_s")
                if samples and t < samples[-1].t:
                    raise RecordingError(f"{path}:{line}: t_s {t} goes back in time (previous {samples[-1].t})")
                values: dict[str, float | None] = {}
                leads_off = False
                for name, index in columns.items():
                    cell = row[index].strip()
                    if name == "ecg" and cell == LEADS_OFF:
                        leads_off = True
                        values[name] = None
                    else:
                        values[name] = None if cell == "" else csv_number(cell, path, line, name)
                samples.append(PhysioSample(t, values.get("ecg"), values.get("gsr"), None, leads_off))
    except RecordingError:
        raise
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise RecordingError(f"{path}: cannot read: {err}") from None
    return samples

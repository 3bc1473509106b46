"""drivedb (PhysioNet, Healey & Picard 2005) as the stress model sees it: per drive, 60 s windows every HOP_S with
the live stage's measures (edge.physio.features), the driver's start-of-drive baseline and a label.

Labels come from `csv_framerate/segments.csv` (rest = low, highway = medium, city = high); a window is labelled
when it lies wholly inside one segment, otherwise it is unlabelled (transitions, the 30 s guard bands). drive17a and
drive17b are one subject in two files: they are joined into "drive17" (17b after 17a, 60 s apart), so the
subject's baseline comes from the start of its drive as for everyone else. drive14 is drive13 re-recorded and
drive01 has no marker: neither has segments, so neither is used.

The csv_framerate ECG is decimated to the 15.5 Hz frame rate and unusable for R-peaks; the beats are rebuilt from
the HR column instead (each beat 60/HR after the previous one), so heart rate is exact and the HRV measures come
from the recorder's beat-to-beat rate. GSR is in the device's mV; the features are ratios to the baseline.
"""

from __future__ import annotations

import csv
import gzip
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.names import STRESS_LEVELS
from edge.physio.features import (
    FEATURE_NAMES,
    Baseline,
    WindowMeasures,
    feature_vector,
    heart_measures,
    skin_measures,
)

LABELS = {"rest": 0, "highway": 1, "city": 2}  # index into STRESS_LEVELS
assert tuple(STRESS_LEVELS[i] for i in LABELS.values()) == ("low", "medium", "high")
WINDOW_S = 60.0
HOP_S = 5.0
JOINED = {"drive17": ("drive17a", "drive17b")}
JOIN_GAP_S = 60.0
GSR_COLUMNS = {"foot": "foot GSR(mV)", "hand": "hand GSR(mV)"}


@dataclass(frozen=True)
class Segment:
    label: int
    start_s: float
    end_s: float


@dataclass
class Drive:
    name: str  # "drive06", or "drive17" for the joined pair
    t: np.ndarray  # seconds from the drive's start
    hr: np.ndarray  # bpm, NaN where missing
    gsr: np.ndarray  # device mV, NaN where the channel is missing
    segments: list[Segment]
    gsr_channel: str


@dataclass
class DriveFeatures:
    name: str
    t: np.ndarray  # window ends
    x: np.ndarray  # feature vectors (rows with has_ecg = has_eda = 0 before the baseline is complete)
    y: np.ndarray  # label index, -1 unlabelled
    ready: np.ndarray  # the baseline was complete: the model would have been asked


def read_segments(folder: Path) -> dict[str, list[Segment]]:
    out: dict[str, list[Segment]] = {}
    with open(folder / "segments.csv", newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            out.setdefault(row["drive"], []).append(
                Segment(LABELS[row["label"]], float(row["start_s"]), float(row["end_s"]))
            )
    return out


def _read_csv(path: Path) -> dict[str, np.ndarray]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        header = next(csv.reader(f))
        data = np.genfromtxt(f, delimiter=",", filling_values=np.nan, ndmin=2)  # some rows have empty fields
    return {name: data[:, i] for i, name in enumerate(header)}


def _load_one(folder: Path, name: str, segments: list[Segment], gsr: str) -> Drive:
    cols = _read_csv(folder / f"{name}.csv.gz")
    t = cols["Elapsed time(s)"]
    hr = cols.get("HR(bpm)", np.full(len(t), np.nan))
    channel = GSR_COLUMNS[gsr] if GSR_COLUMNS[gsr] in cols else GSR_COLUMNS["foot"]
    return Drive(name, t, hr, cols.get(channel, np.full(len(t), np.nan)), segments, channel)


def load_drives(folder: Path, gsr: str = "foot", names: list[str] | None = None) -> list[Drive]:
    """Every drive with segments (or those in `names`), drive17a/b joined; `gsr` picks the channel ("foot", or
    "hand" falling back to foot where a drive has no hand GSR)."""
    segments = read_segments(folder)
    drives: list[Drive] = []
    members = {m for pair in JOINED.values() for m in pair}
    # a joined drive only where a member has segments: a folder without drive17a/b has no drive17
    joined = {name for name, pair in JOINED.items() if any(m in segments for m in pair)}
    wanted = sorted({n for n in segments if n not in members} | joined)
    for name in wanted:
        if names is not None and name not in names:
            continue
        if name in JOINED:
            parts = [_load_one(folder, m, segments.get(m, []), gsr) for m in JOINED[name] if m in segments]
            drives.append(_join(name, parts))
        else:
            drives.append(_load_one(folder, name, segments[name], gsr))
    return drives


def _join(name: str, parts: list[Drive]) -> Drive:
    offset, t, hr, gsr, segs = 0.0, [], [], [], []
    for p in parts:
        t.append(p.t + offset)
        hr.append(p.hr)
        gsr.append(p.gsr)
        segs += [Segment(s.label, s.start_s + offset, s.end_s + offset) for s in p.segments]
        offset += float(p.t[-1]) + JOIN_GAP_S
    return Drive(name, np.concatenate(t), np.concatenate(hr), np.concatenate(gsr), segs, parts[0].gsr_channel)


def beats_from_hr(t: np.ndarray, hr: np.ndarray) -> np.ndarray:
    """Beat times rebuilt from a beat-to-beat heart-rate channel: each beat 60/HR after the previous one, HR read at
    that beat; a missing or implausible HR skips ahead by 0.5 s without a beat (a gap the HRV code rejects)."""
    ok = np.isfinite(hr) & (hr >= 25.0) & (hr <= 220.0)
    out: list[float] = []
    tb, end = float(t[0]), float(t[-1])
    while tb < end:
        i = min(int(np.searchsorted(t, tb)), len(t) - 1)
        if ok[i]:
            out.append(tb)
            tb += 60.0 / float(hr[i])
        else:
            tb += 0.5
    return np.asarray(out)


def windows(drive: Drive, window_s: float = WINDOW_S, hop_s: float = HOP_S) -> Iterator[tuple[WindowMeasures, int]]:
    """(measures, label) of every window ending at window_s, window_s + hop_s, … within the drive."""
    beats = beats_from_hr(drive.t, drive.hr)
    for end in np.arange(window_s, float(drive.t[-1]) + 1e-9, hop_s):
        start = end - window_s
        heart = heart_measures(beats, start, end)
        lo, hi = np.searchsorted(drive.t, [start - 1.0, end + 1.0])
        raw_t, raw = drive.t[lo:hi], drive.gsr[lo:hi]
        inside = (raw_t >= start) & (raw_t < end)
        skin, _ = skin_measures(raw_t, raw, start, end, raw=raw[inside])
        label = next((s.label for s in drive.segments if s.start_s <= start and end <= s.end_s), -1)
        yield WindowMeasures(float(end), heart, skin), label


def drive_features(drive: Drive, baseline_s: float, window_s: float = WINDOW_S, hop_s: float = HOP_S) -> DriveFeatures:
    """The drive's windows through the same Baseline and feature_vector as the live stage."""
    base = Baseline(span_s=baseline_s)
    t, xs, ys, ready = [], [], [], []
    for w, label in windows(drive, window_s, hop_s):
        base.update(w)
        x = feature_vector(w, base)
        t.append(w.t)
        ys.append(label)
        ready.append(x is not None)
        xs.append(x if x is not None else np.zeros(len(FEATURE_NAMES), dtype=np.float32))
    return DriveFeatures(drive.name, np.asarray(t), np.stack(xs), np.asarray(ys), np.asarray(ready))

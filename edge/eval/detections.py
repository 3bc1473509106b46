"""What the product detected, as intervals: from one sample of the driver state per frame (a replay) or per state
message (a RUN.jsonl), each with the time it holds until. Pure (docs/eval.md, "Detections").

- eyes_closed: a closure of both eyes (the drowsiness monitor's own) that reached `min_closure_s`;
- yawn: a yawn episode of the drowsiness monitor, from its start until the mouth closes (MAR < yawn_end_mar);
- looking_away: an off-road run of the distraction monitor that reached `min_off_road_s`;
- face_absent: no usable face (none, or below the quality any judging stage accepts) for `min_absent_s`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from edge.eval.scoring import Interval

DETECTION_KINDS = ("eyes_closed", "yawn", "looking_away", "face_absent")
_EPS = 1e-9


@dataclass(frozen=True, slots=True)
class Sample:
    t: float
    t_end: float  # the sample holds until then (the next frame's time)
    face_present: bool
    face_usable: bool
    eyes_visible: bool
    closure_s: float | None  # both eyes closed for this long now; None when not closed
    off_road_s: float | None  # off the road (the current run) for this long now; None when not off road
    yawn_start: float | None = None  # a yawn was counted in this sample: when it started
    mar: float | None = None  # mouth aspect ratio; None without a face
    pose_reference: str | None = None  # "mount", "calibrating" or "calibrated"; None where the state does not say


@dataclass(frozen=True, slots=True)
class Thresholds:
    min_closure_s: float = 1.0
    min_off_road_s: float = 1.0
    min_absent_s: float = 1.0
    yawn_end_mar: float = 0.35


@dataclass(frozen=True, slots=True)
class ClipDetections:
    by_kind: dict[str, tuple[Interval, ...]]
    face_found_pct: float | None
    eyes_visible_pct: float | None  # of the samples with a face
    calibrated_at: float | None  # the first time the state said the road-ahead pose is calibrated
    judged_from: float | None  # the first time head pose was judged (against a mount or a calibrated pose)


def detect(samples: Sequence[Sample], th: Thresholds = Thresholds()) -> ClipDetections:
    faces = sum(s.face_present for s in samples)
    eyes = sum(s.face_present and s.eyes_visible for s in samples)
    return ClipDetections(
        by_kind={
            "eyes_closed": runs(samples, lambda s: s.closure_s, th.min_closure_s),
            "yawn": yawns(samples, th.yawn_end_mar),
            "looking_away": runs(samples, lambda s: s.off_road_s, th.min_off_road_s),
            "face_absent": absences(samples, th.min_absent_s),
        },
        face_found_pct=100.0 * faces / len(samples) if samples else None,
        eyes_visible_pct=100.0 * eyes / faces if faces else None,
        calibrated_at=next((s.t for s in samples if s.pose_reference == "calibrated"), None),
        judged_from=next((s.t for s in samples if s.pose_reference in ("mount", "calibrated")), None),
    )


def runs(samples: Sequence[Sample], since: Callable[[Sample], float | None], min_s: float) -> tuple[Interval, ...]:
    """Runs of consecutive samples whose `since` (how long the condition has lasted) is not None, kept when it
    reached `min_s`: from the run's start (the first sample's time less its `since`) to the last sample's end."""
    found: list[Interval] = []
    start: float | None = None
    longest = 0.0
    end = 0.0
    for s in samples:
        value = since(s)
        if value is None:
            if start is not None and longest >= min_s - _EPS:
                found.append(Interval(start, end))
            start = None
            continue
        if start is None:
            start, longest = s.t - value, value
        longest = max(longest, value)
        end = s.t_end
    if start is not None and longest >= min_s - _EPS:
        found.append(Interval(start, end))
    return tuple(found)


def absences(samples: Sequence[Sample], min_s: float) -> tuple[Interval, ...]:
    """No usable face, measured like the product (first to last such sample) and kept from `min_s`."""
    found: list[Interval] = []
    first: Sample | None = None
    last: Sample | None = None
    for s in [*samples, None]:
        if s is not None and not s.face_usable:
            first, last = first or s, s
            continue
        if first is not None and last is not None and last.t - first.t >= min_s - _EPS:
            found.append(Interval(first.t, last.t_end))
        first = last = None
    return tuple(found)


def yawns(samples: Sequence[Sample], yawn_end_mar: float) -> tuple[Interval, ...]:
    """Each counted yawn, from its start until the mouth closed (or the face was lost) after it was counted."""
    found: list[Interval] = []
    for i, s in enumerate(samples):
        if s.yawn_start is None:
            continue
        end = s.t_end
        for later in samples[i + 1:]:
            if later.mar is None or later.mar < yawn_end_mar:
                break
            end = later.t_end
        found.append(Interval(s.yawn_start, end))
    return tuple(found)


def merge(intervals: Sequence[Interval]) -> tuple[Interval, ...]:
    """Overlapping or touching intervals joined (the same closure seen by two means)."""
    out: list[Interval] = []
    for iv in sorted(intervals, key=lambda i: i.start):
        if out and iv.start <= out[-1].end + _EPS:
            out[-1] = Interval(out[-1].start, max(out[-1].end, iv.end))
        else:
            out.append(iv)
    return tuple(out)

"""Scoring, pure: label intervals and detection intervals in, recall, precision, latency and false detections out;
alerts in, which labelled interval explains each out. Times are seconds, intervals half-open (docs/eval.md).

A detection finds a label when it overlaps the label widened by the label's edge tolerance on both sides. A label
is found once however many detections overlap it; every detection that overlaps a label is a true detection, the
others are false detections. Detections that overlap only labels left out of scoring (`ignore`: e.g. closures
labelled shorter than 1 s) count neither way.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

# Alert kinds to the label kinds that explain them (docs/eval.md); an empty tuple: nothing labelled explains it.
ALERT_EXPLAINED_BY: Mapping[str, tuple[str, ...]] = {
    "microsleep": ("eyes_closed",),
    "sleep": ("eyes_closed",),
    "long_distraction": ("looking_away",),
    "visual_time_sharing": ("looking_away",),
    "driver_not_visible": ("face_absent",),
    "drowsiness": ("yawn", "eyes_closed"),
    "unresponsive": ("eyes_closed", "looking_away"),
    "monitoring_degraded": (),
    "stress": (),
}
LEVEL_ORDER = ("critical", "warning", "advisory")  # worst first
_EPS = 1e-9


@dataclass(frozen=True, slots=True)
class Interval:
    start: float
    end: float  # exclusive

    @property
    def duration(self) -> float:
        return self.end - self.start

    def overlaps(self, other: Interval, tolerance_s: float = 0.0) -> bool:
        """Shares some time with `other` widened by `tolerance_s` on both sides (touching is not overlapping)."""
        return self.start < other.end + tolerance_s - _EPS and self.end > other.start - tolerance_s + _EPS

    def contains(self, t: float, tolerance_s: float = 0.0) -> bool:
        return self.start - tolerance_s - _EPS <= t < self.end + tolerance_s + _EPS


@dataclass(frozen=True, slots=True)
class KindScore:
    """One kind over one clip or many: counts, and what is needed to list the misses."""

    kind: str
    labels: int
    found: int
    detections: int
    true_detections: int
    hours: float
    latencies_s: tuple[float, ...] = ()  # per found label: first overlapping detection's start - label start
    false_detections: tuple[Interval, ...] = ()
    missed: tuple[Interval, ...] = ()
    outside_s: float = 0.0  # detected time outside every (widened) label: a run far longer than its label shows

    @property
    def recall(self) -> float | None:
        return self.found / self.labels if self.labels else None

    @property
    def precision(self) -> float | None:
        return self.true_detections / self.detections if self.detections else None

    @property
    def false_per_hour(self) -> float | None:
        return len(self.false_detections) / self.hours if self.hours > 0 else None

    @property
    def latency_median_s(self) -> float | None:
        return statistics.median(self.latencies_s) if self.latencies_s else None

    @property
    def latency_max_s(self) -> float | None:
        return max(self.latencies_s) if self.latencies_s else None


def score_kind(
    kind: str,
    labels: Sequence[Interval],
    detections: Sequence[Interval],
    tolerance_s: float,
    hours: float,
    ignore: Sequence[Interval] = (),
) -> KindScore:
    found, latencies, missed = 0, [], []
    for label in labels:
        hits = [d for d in detections if d.overlaps(label, tolerance_s)]
        if hits:
            found += 1
            latencies.append(min(d.start for d in hits) - label.start)
        else:
            missed.append(label)
    true = false = 0
    false_list = []
    for d in detections:
        if any(d.overlaps(label, tolerance_s) for label in labels):
            true += 1
        elif any(d.overlaps(other, tolerance_s) for other in ignore):
            continue
        else:
            false += 1
            false_list.append(d)
    covered = [Interval(i.start - tolerance_s, i.end + tolerance_s) for i in (*labels, *ignore)]
    outside = sum(_outside(d, covered) for d in detections)
    return KindScore(kind, len(labels), found, true + false, true, hours, tuple(latencies), tuple(false_list),
                     tuple(missed), outside)


def _outside(d: Interval, covered: Sequence[Interval]) -> float:
    """The time of `d` that no interval of `covered` covers."""
    inside, cursor = 0.0, d.start
    for c in sorted(covered, key=lambda i: i.start):
        lo, hi = max(c.start, cursor), min(c.end, d.end)
        if hi > lo:
            inside += hi - lo
            cursor = hi
    return max(0.0, d.duration - inside)


def total(scores: Sequence[KindScore]) -> KindScore:
    """Several clips' scores of one kind added up."""
    if not scores:
        raise ValueError("nothing to total")
    return KindScore(
        scores[0].kind,
        sum(s.labels for s in scores),
        sum(s.found for s in scores),
        sum(s.detections for s in scores),
        sum(s.true_detections for s in scores),
        sum(s.hours for s in scores),
        tuple(x for s in scores for x in s.latencies_s),
        tuple(x for s in scores for x in s.false_detections),
        tuple(x for s in scores for x in s.missed),
        sum(s.outside_s for s in scores),
    )


@dataclass(frozen=True, slots=True)
class AlertRecord:
    clip: str
    kind: str
    level: str  # at start
    max_level: str  # the highest it reached (alerts escalate while unacknowledged)
    t: float  # started_at, seconds from the start of the clip


@dataclass(frozen=True, slots=True)
class LabelledInterval:
    kind: str
    interval: Interval
    tolerance_s: float


@dataclass(frozen=True, slots=True)
class AlertVerdict:
    alert: AlertRecord
    explained_by: str | None  # the label kind that explains it; None: a false alert
    during: tuple[str, ...] = field(default=())  # every label kind it started in (talking, ...), for the reader

    @property
    def false(self) -> bool:
        return self.explained_by is None


def judge_alerts(
    alerts: Sequence[AlertRecord],
    labels: Sequence[LabelledInterval],
    lookback_s: Mapping[str, float] | None = None,
) -> list[AlertVerdict]:
    """Each alert start against the labels: explained when it starts inside (within tolerance) an interval of a
    label kind that explains its kind; `lookback_s[kind]`: also when such an interval ended at most that long
    before (drowsiness is judged from the last minutes' yawns and closures)."""
    verdicts = []
    for alert in alerts:
        back = (lookback_s or {}).get(alert.kind, 0.0)
        explained = None
        for kind in ALERT_EXPLAINED_BY.get(alert.kind, ()):
            if any(lab.kind == kind and _explains(lab, alert.t, back) for lab in labels):
                explained = kind
                break
        during = tuple(sorted({lab.kind for lab in labels if lab.interval.contains(alert.t, lab.tolerance_s)}))
        verdicts.append(AlertVerdict(alert, explained, during))
    return verdicts


def _explains(label: LabelledInterval, t: float, lookback_s: float) -> bool:
    iv, tol = label.interval, label.tolerance_s
    return iv.start - tol - _EPS <= t < iv.end + tol + lookback_s + _EPS


def false_alert_rates(verdicts: Sequence[AlertVerdict], hours: float) -> dict[str, float | int | None]:
    """False alerts: the count and per hour, overall and by the highest level each reached (critical first)."""
    false = [v for v in verdicts if v.false]
    out: dict[str, float | int | None] = {"false_alerts": len(false),
                                          "false_per_hour": len(false) / hours if hours > 0 else None}
    for level in LEVEL_ORDER:
        n = sum(1 for v in false if v.alert.max_level == level)
        out[f"{level}_false"] = n
        out[f"{level}_false_per_hour"] = n / hours if hours > 0 else None
    return out

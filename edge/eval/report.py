"""One clip's detections and alerts scored against its labels, the totals over clips, and how they are shown: a
table per clip and in total, then everything as one line of JSON (docs/eval.md)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from edge.eval.detections import ClipDetections
from edge.eval.labels import ClipLabels
from edge.eval.scoring import (
    LEVEL_ORDER,
    AlertRecord,
    AlertVerdict,
    Interval,
    KindScore,
    LabelledInterval,
    false_alert_rates,
    judge_alerts,
    score_kind,
    total,
)

LONG_LOOK_S = 2.0  # looking_away labels at least this long are also scored on their own
# looking_away_judged: the looking_away labels that start once head pose is judged (a mount, or calibrated)
SCORED_KINDS = ("eyes_closed", "yawn", "looking_away", "looking_away_judged", "looking_away_2s", "face_absent")
LOOKING_AWAY_SUBSETS = ("looking_away_judged", "looking_away_2s")  # the looking_away detections, own recall
SHORT_YAWN_S = 1.0  # a labelled gape shorter than this is not a yawn to find (labels.json flags it)


@dataclass(frozen=True, slots=True)
class ClipResult:
    clip: str
    source: str  # "replay" or "jsonl"
    hours: float
    frames: int
    detections: ClipDetections
    scores: dict[str, KindScore]
    alerts: tuple[AlertVerdict, ...]
    limits: tuple[str, ...] = ()


def score_clip(
    labels: ClipLabels,
    detections: ClipDetections,
    alerts: Sequence[AlertRecord],
    source: str,
    frames: int,
    drowsiness_history_s: float,
    times: Sequence[float] | None = None,
    limits: Sequence[str] = (),
) -> ClipResult:
    """Score one clip. `times`: the replay's frame times (labels are in frames); without them frame k is k / fps."""
    hours = labels.duration_s / 3600.0
    targets: dict[str, list[Interval]] = {k: [] for k in SCORED_KINDS}
    ignored: dict[str, list[Interval]] = {k: [] for k in SCORED_KINDS}
    labelled: list[LabelledInterval] = []
    for event in labels.events:
        iv = labels.interval(event, times)
        labelled.append(LabelledInterval(event.kind, iv, labels.tolerance_s(event.kind)))
        if event.kind == "talking":
            continue
        long_enough = event.ge_1s and not (event.kind == "yawn" and event.frames / labels.fps < SHORT_YAWN_S)
        (targets if long_enough else ignored)[event.kind].append(iv)
        if event.kind == "looking_away":
            (targets if event.frames / labels.fps >= LONG_LOOK_S - 1e-9 else ignored)["looking_away_2s"].append(iv)
            judged = detections.judged_from is not None and iv.start >= detections.judged_from - 1e-9
            (targets if judged else ignored)["looking_away_judged"].append(iv)
    scores = {}
    for kind in SCORED_KINDS:
        base = "looking_away" if kind in LOOKING_AWAY_SUBSETS else kind
        scores[kind] = score_kind(kind, targets[kind], detections.by_kind[base], labels.tolerance_s(base), hours,
                                  ignored[kind])
    verdicts = judge_alerts(alerts, labelled, {"drowsiness": drowsiness_history_s})
    return ClipResult(labels.clip, source, hours, frames, detections, scores, tuple(verdicts), tuple(limits))


def _r(x: float | None, nd: int = 3) -> float | None:
    return None if x is None else round(x, nd)


def kind_json(s: KindScore) -> dict[str, Any]:
    out: dict[str, Any] = {
        "labels": s.labels, "found": s.found, "recall": _r(s.recall), "detections": s.detections,
        "true_detections": s.true_detections, "precision": _r(s.precision),
        "false_detections": len(s.false_detections), "false_per_hour": _r(s.false_per_hour, 1),
        "outside_labels_s": round(s.outside_s, 2),
        "latency_median_s": _r(s.latency_median_s), "latency_max_s": _r(s.latency_max_s),
        "latencies_s": [round(x, 3) for x in s.latencies_s],
        "missed": [[round(i.start, 2), round(i.end, 2)] for i in s.missed],
        "false": [[round(i.start, 2), round(i.end, 2)] for i in s.false_detections],
    }
    if s.kind in LOOKING_AWAY_SUBSETS:  # the same detections as looking_away: only the recall is its own
        out["precision"] = out["false_per_hour"] = out["outside_labels_s"] = None
    return out


def alert_json(v: AlertVerdict) -> dict[str, Any]:
    a = v.alert
    return {"clip": a.clip, "t": round(a.t, 2), "kind": a.kind, "level": a.level, "max_level": a.max_level,
            "explained_by": v.explained_by, "during": list(v.during)}


def clip_json(r: ClipResult) -> dict[str, Any]:
    d = r.detections
    return {
        "clip": r.clip, "source": r.source, "duration_s": round(r.hours * 3600.0, 2), "frames": r.frames,
        "face_found_pct": _r(d.face_found_pct, 1), "eyes_visible_pct": _r(d.eyes_visible_pct, 1),
        "closures_ge_1s": len(d.by_kind["eyes_closed"]), "pose_calibrated_at": _r(d.calibrated_at, 2),
        "pose_judged_from": _r(d.judged_from, 2),
        "kinds": {k: kind_json(s) for k, s in r.scores.items()},
        "alerts": [alert_json(v) for v in r.alerts],
        **false_alert_rates(r.alerts, r.hours),
        "false_alerts_during_talking": sum(1 for v in r.alerts if v.false and "talking" in v.during),
        "limits": list(r.limits),
    }


def totals_json(results: Sequence[ClipResult]) -> dict[str, Any]:
    hours = sum(r.hours for r in results)
    verdicts = [v for r in results for v in r.alerts]
    return {
        "clips": len(results), "duration_s": round(hours * 3600.0, 2),
        "kinds": {k: kind_json(total([r.scores[k] for r in results])) for k in SCORED_KINDS} if results else {},
        "alerts": len(verdicts), **false_alert_rates(verdicts, hours),
        "false_alerts_during_talking": sum(1 for v in verdicts if v.false and "talking" in v.during),
        "false_alert_list": [alert_json(v) for v in _worst_first(verdicts) if v.false],
    }


def _worst_first(verdicts: Sequence[AlertVerdict]) -> list[AlertVerdict]:
    return sorted(verdicts, key=lambda v: (LEVEL_ORDER.index(v.alert.max_level), v.alert.clip, v.alert.t))


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100.0 * x:.0f}%"


def _num(x: float | None, fmt: str = "{:.1f}") -> str:
    return "-" if x is None else fmt.format(x)


def format_table(results: Sequence[ClipResult]) -> str:
    lines = [f"{'clip':<32} {'src':<6} {'dur s':>6} {'face %':>6} {'eyes %':>6} {'clos>=1s':>8} "
             f"{'judged':>7} {'pose cal':>8} {'alerts':>6} {'false':>5}"]
    for r in results:
        d = r.detections
        false = sum(v.false for v in r.alerts)
        lines.append(f"{r.clip[:32]:<32} {r.source:<6} {r.hours * 3600:6.1f} {_num(d.face_found_pct):>6} "
                     f"{_num(d.eyes_visible_pct):>6} {len(d.by_kind['eyes_closed']):>8} "
                     f"{_num(d.judged_from, '{:.1f}s'):>7} {_num(d.calibrated_at, '{:.1f}s'):>8} "
                     f"{len(r.alerts):>6} {false:>5}")
    lines += ["", f"{'clip':<32} {'kind':<19} {'found':>7} {'recall':>6} {'true/det':>8} {'prec':>5} "
              f"{'false/h':>8} {'out s':>6} {'lat med':>7} {'lat max':>7}"]
    rows = [(r.clip, s) for r in results for s in r.scores.values() if s.labels or s.detections]
    rows += [("TOTAL", total([r.scores[k] for r in results])) for k in SCORED_KINDS] if results else []
    for clip, s in rows:
        two = s.kind in LOOKING_AWAY_SUBSETS
        lines.append(f"{clip[:32]:<32} {s.kind:<19} {s.found:>3}/{s.labels:<3} {_pct(s.recall):>6} "
                     f"{'' if two else f'{s.true_detections}/{s.detections}':>8} "
                     f"{'-' if two else _pct(s.precision):>5} {'-' if two else _num(s.false_per_hour):>8} "
                     f"{'-' if two else _num(s.outside_s):>6} "
                     f"{_num(s.latency_median_s, '{:+.2f}'):>7} {_num(s.latency_max_s, '{:+.2f}'):>7}")
    verdicts = [v for r in results for v in r.alerts]
    hours = sum(r.hours for r in results)
    rates = false_alert_rates(verdicts, hours)
    lines += ["", f"alerts: {len(verdicts)} raised, {rates['false_alerts']} outside an explaining label "
              f"({_num(rates['false_per_hour'])}/h); by highest level: "
              + ", ".join(f"{lv} {rates[f'{lv}_false']} ({_num(rates[f'{lv}_false_per_hour'])}/h)"
                          for lv in LEVEL_ORDER)]
    for v in _worst_first(verdicts):
        if v.false:
            a = v.alert
            level = a.level if a.level == a.max_level else f"{a.level}->{a.max_level}"
            during = f" during {', '.join(v.during)}" if v.during else ""
            lines.append(f"  FALSE {a.clip} t={a.t:.1f}s {a.kind} {level}{during}")
    for r in results:
        lines += [f"note ({r.clip}): {x}" for x in r.limits]
    return "\n".join(lines)

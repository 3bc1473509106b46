"""The report's numbers: coverage of each modality, episodes and alerts per kind. Pure."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge.names import ALERT_LEVELS
from edge.report.run import Run


@dataclass(frozen=True, slots=True)
class AlertKindSummary:
    kind: str
    count: int
    total_s: float
    levels: dict[str, int]  # ALERT_LEVELS -> how many of this kind reached that level at most
    acknowledged: int


@dataclass(frozen=True, slots=True)
class Summary:
    duration_s: float
    states: int
    face_found_pct: float
    eyes_visible_pct: float | None  # of the states with a face
    coverage_pct: dict[str, float]  # modality -> % of states with its value
    closures: int  # runs of states with the eyes closed
    off_road_spans: int
    off_road_s: float
    episodes: dict[str, int]
    alerts: list[AlertKindSummary]


def runs_of(mask: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) index of every run of True."""
    m = np.concatenate(([False], mask.astype(bool), [False]))
    edges = np.flatnonzero(np.diff(m.astype(np.int8)))
    return [(int(a), int(b) - 1) for a, b in zip(edges[::2], edges[1::2])]


def _pct(mask: np.ndarray) -> float:
    return round(100.0 * float(np.mean(mask)), 1) if len(mask) else 0.0


def span_seconds(run: Run, first: int, last: int) -> float:
    """A run of states from its first state's time to the state after its last (the run's end for the last)."""
    end = run.t[last + 1] if last + 1 < len(run.t) else run.t[last]
    return float(end - run.t[first])


def summarise(run: Run) -> Summary:
    face = run.face > 0
    off = run.on_road == 0
    spans = runs_of(off)
    kinds: dict[str, list] = {}
    for a in run.alerts:
        kinds.setdefault(a.kind, []).append(a)
    alerts = [
        AlertKindSummary(
            kind, len(spans_), round(sum(a.duration(run.end) for a in spans_), 1),
            {level: sum(a.level == level for a in spans_) for level in ALERT_LEVELS},
            sum(a.acknowledged for a in spans_),
        )
        for kind, spans_ in kinds.items()
    ]
    return Summary(
        duration_s=round(run.duration_s, 1),
        states=len(run.t),
        face_found_pct=_pct(face),
        eyes_visible_pct=_pct(run.eyes_visible[face] > 0) if face.any() else None,
        coverage_pct={
            "face": _pct(face),
            "voice": _pct(np.isfinite(run.voice_arousal)),
            "physiology (heart rate)": _pct(np.isfinite(run.hr_bpm)),
            "stress": _pct(np.isfinite(run.stress)),
            "vehicle speed": _pct(np.isfinite(run.speed_kmh)),
        },
        closures=len(runs_of(run.closed_s > 0)),
        off_road_spans=len(spans),
        off_road_s=round(sum(span_seconds(run, a, b) for a, b in spans), 1),
        episodes=dict(run.episodes),
        alerts=sorted(alerts, key=lambda k: (-k.count, k.kind)),
    )

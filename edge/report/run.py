"""A run of the product as the report draws it: the state messages' time series and the alerts' spans. Pure.

Built from the messages `dms replay --jsonl` writes (`{"topic", "payload"}` per line, docs/mqtt.md), whether they
come from a RUN.jsonl or from a replay the report runs itself. Every series is over state messages (state_hz); a
value the state did not have (no face, a modality off) is NaN, so plots leave a gap there rather than draw a line
through it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edge.names import ALERT_LEVELS, EVENTS, STATE
from edge.types import EMOTION_LABELS

# The drowsiness counters of the state payload that count episodes (docs/mqtt.md)
EPISODE_COUNTERS = ("blinks", "long_blinks", "microsleeps", "sleeps", "yawns", "nods")


class ReportInputError(ValueError):
    """Messages that cannot be read as a run; the message names the file and line."""


@dataclass(frozen=True, slots=True)
class AlertSpan:
    id: str
    kind: str
    level: str  # the highest level its updates reached
    start: float
    end: float | None  # None: still open when the run ended
    acknowledged: bool

    def duration(self, run_end: float) -> float:
        return (self.end if self.end is not None else run_end) - self.start


@dataclass
class Run:
    """Series over the state messages (t ascending) and the alerts. Arrays are float with NaN where absent."""

    t: np.ndarray
    face: np.ndarray  # 1 face present, 0 not
    eyes_visible: np.ndarray
    closed_prob: np.ndarray
    closed_s: np.ndarray  # the current closure's length, 0 when open
    perclos: np.ndarray
    kss: np.ndarray
    yaw: np.ndarray  # head yaw/pitch against the road-ahead reference (the learned neutral), degrees
    pitch: np.ndarray
    on_road: np.ndarray  # 1 on the road, 0 off, NaN not judged
    mar: np.ndarray
    yawns: np.ndarray  # the running yawn count
    stress: np.ndarray  # the fused stress score 0-1
    hr_bpm: np.ndarray
    voice_arousal: np.ndarray
    speed_kmh: np.ndarray
    emotion: np.ndarray  # (n, len(EMOTION_LABELS)) the face's emotion over its window, NaN rows without
    alerts: list[AlertSpan] = field(default_factory=list)
    episodes: dict[str, int] = field(default_factory=dict)  # EPISODE_COUNTERS: how many during the run
    labelled: list[tuple[str, float, float]] = field(default_factory=list)  # (kind, start s, end s) of labels.json

    @property
    def start(self) -> float:
        return float(self.t[0])

    @property
    def end(self) -> float:
        return float(self.t[-1])

    @property
    def duration_s(self) -> float:
        return self.end - self.start

    def has(self, series: np.ndarray) -> bool:
        """The run has some value of this series (a modality that was on, a quantity once known)."""
        return bool(np.isfinite(series).any())


def read_messages(path: Path) -> list[dict[str, Any]]:
    """The messages of a RUN.jsonl, in order. Raises ReportInputError naming the line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise ReportInputError(f"{path}: cannot read ({err})") from None
    out = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            message = json.loads(line)
            if not isinstance(message, dict) or not isinstance(message.get("payload"), dict):
                raise ValueError("expected {\"topic\": ..., \"payload\": {...}}")
            str(message["topic"])
        except (ValueError, KeyError) as err:
            raise ReportInputError(f"{path}:{n}: not a message of dms replay --jsonl ({err})") from None
        out.append(message)
    return out


def _num(x: Any) -> float:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) else math.nan


def _flag(x: Any) -> float:
    return 1.0 if x is True else 0.0 if x is False else math.nan


def _get(payload: dict[str, Any], *keys: str) -> Any:
    for k in keys:
        if not isinstance(payload, dict):
            return None
        payload = payload.get(k)
    return payload


def build_run(messages: Iterable[dict[str, Any]], where: str = "run") -> Run:
    """The Run of these messages. Raises ReportInputError when there is no state message."""
    rows: list[list[float]] = []
    emotions: list[list[float]] = []
    alerts: dict[str, AlertSpan] = {}
    counted: dict[str, float] = {}  # EPISODE_COUNTERS count from the session's start: the last state's are the run's
    for m in messages:
        topic, p = m.get("topic"), m.get("payload")
        if not isinstance(p, dict):
            continue
        if topic == STATE and _num(p.get("t")) == _num(p.get("t")):  # a state with a time
            face = p.get("face") or {}
            present = face.get("present") is True
            rows.append([
                _num(p["t"]), 1.0 if present else 0.0, _flag(_get(p, "eyes", "visible")),
                _num(_get(p, "eyes", "closed_prob")), _num(_get(p, "eyes", "closed_s")),
                _num(_get(p, "eyes", "perclos")), _num(_get(p, "drowsiness", "kss")),
                _num(_get(p, "distraction", "yaw_offset")), _num(_get(p, "distraction", "pitch_offset")),
                _flag(_get(p, "distraction", "on_road")), _num(_get(p, "mouth", "mar")) if present else math.nan,
                _num(_get(p, "drowsiness", "yawns")), _num(_get(p, "stress", "score")),
                _num(_get(p, "physio", "hr_bpm")), _num(_get(p, "voice", "arousal")),
                _num(_get(p, "speed", "speed_kmh")),
            ])
            for k in EPISODE_COUNTERS:
                if (v := _num(_get(p, "drowsiness", k))) == v:
                    counted[k] = v
            scores = _get(p, "emotion", "window_mean")
            emotions.append([_num(scores.get(k)) for k in EMOTION_LABELS] if isinstance(scores, dict)
                            else [math.nan] * len(EMOTION_LABELS))
        elif topic == EVENTS:
            _alert_event(alerts, p)
    if not rows:
        raise ReportInputError(f"{where}: no state messages (not written by dms replay --jsonl?)")
    a = np.array(rows, dtype=np.float64)
    order = np.argsort(a[:, 0], kind="stable")
    a, e = a[order], np.array(emotions, dtype=np.float64)[order]
    cols = [a[:, i] for i in range(a.shape[1])]
    episodes = {k: int(v) for k, v in counted.items()}
    return Run(*cols, emotion=e, alerts=sorted(alerts.values(), key=lambda s: s.start), episodes=episodes)


def _alert_event(alerts: dict[str, AlertSpan], p: dict[str, Any]) -> None:
    id_, kind, level, type_ = p.get("id"), p.get("kind"), p.get("level"), p.get("type")
    started = _num(p.get("started_at"))
    if not isinstance(id_, str) or not isinstance(kind, str) or level not in ALERT_LEVELS or started != started:
        return
    old = alerts.get(id_)
    if old is not None and ALERT_LEVELS.index(old.level) > ALERT_LEVELS.index(level):
        level = old.level
    ended = _num(p.get("ended_at"))
    alerts[id_] = AlertSpan(
        id_, kind, level, started if old is None else old.start,
        ended if type_ == "end" and ended == ended else (old.end if old is not None else None),
        bool(p.get("acknowledged")) or (old is not None and old.acknowledged),
    )

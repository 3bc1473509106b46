"""The alert state machine: conditions in, `start` / `update` / `end` events out. Pure policy.

One alert per kind at a time, each a lifecycle of events sharing one id. The rules (times from AlertsConfig):
- start: the kind's condition is active, the kind is not in cooldown (cooldown_s after its last end) and, when a
  fresh speed is known, the vehicle is fast enough (DDAW, EU 2021/1341, for the drowsiness level; ADDW, EU
  2023/2590, for long distraction and visual time sharing). A vehicle standing still (speed.standing_kmh) silences
  those two as well, whatever the ADDW threshold: looking away at a standstill is no hazard. Eye closures and an
  unresponsive driver are never gated. Without a speed, or with a stale one (edge/monitor/motion.py), the vehicle
  counts as moving. Slowing down or stopping never cuts an active alert short.
- level: the condition's own level, else the kind's configured first level (AlertLevels). An unacknowledged alert
  goes up one level (advisory -> warning -> critical) after each escalate_after_s at its level while its condition
  lasts; acknowledging stops that. A level never goes down within one alert.
- update: every update_interval_s while the alert lasts, at once when its level changes, and at the next step
  after an acknowledgement.
- end: only after the condition has been clear for hold_s (hysteresis: no flapping); `ended_at` is when it cleared.
Ids are f"{id_prefix}-{kind}-{n}", n counting the alerts of this manager from 1, so a replay gives the same ids.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from edge.config import AlertsConfig, SpeedConfig
from edge.monitor.motion import fresh_speed, motion
from edge.names import ALERT_KINDS, ALERT_LEVELS, SCHEMA_VERSION, AlertLevel

EventType = Literal["start", "update", "end"]
EvidenceValue = float | int | str | bool | None

# Speed gating: EU 2021/1341 (DDAW) gates the KSS drowsiness warning above 70 km/h; eyes shut for seconds are
# dangerous at any speed, so microsleep and sleep are not gated.
DDAW_KINDS = frozenset({"drowsiness"})
ADDW_KINDS = frozenset({"long_distraction", "visual_time_sharing"})
# Silenced while the vehicle stands still: the driver may look away from the road at a standstill. Unresponsive
# never follows from a head angle alone (conditions.py): closed eyes and no return after a warning still raise it.
STANDING_KINDS = frozenset({"long_distraction", "visual_time_sharing"})
# Health and wellbeing notices do not escalate: sunglasses or a stressful drive are no reason to go critical.
NO_ESCALATION = frozenset({"monitoring_degraded", "stress"})
# The cooldown keeps state-like alerts (distraction, drowsiness level, visibility) from flapping; an eye closure or
# an unresponsive driver is raised every time, however soon after the last one.
NO_COOLDOWN = frozenset({"microsleep", "sleep", "unresponsive"})

_EPS = 1e-9  # time boundaries are inclusive despite float sums of frame intervals
_ENDED_IDS_KEPT = 64  # recently ended ids, so a late acknowledgement gets a clear reason


@dataclass(frozen=True, slots=True)
class Condition:
    active: bool
    evidence: Mapping[str, EvidenceValue] = field(default_factory=dict)  # the numbers behind the verdict
    level: AlertLevel | None = None  # overrides the kind's configured first level (e.g. very drowsy: warning)


CLEAR = Condition(False, MappingProxyType({}))  # shared: read-only


def _json_value(v: EvidenceValue) -> EvidenceValue:
    if isinstance(v, float):
        return round(v, 4) if math.isfinite(v) else None
    return v


@dataclass(frozen=True, slots=True)
class AlertEvent:
    type: EventType
    id: str
    kind: str
    level: AlertLevel
    started_at: float
    ended_at: float | None  # set on `end`: when the condition cleared
    evidence: dict[str, EvidenceValue]
    acknowledged: bool
    t: float  # when this event was emitted, pipeline seconds

    def payload(self) -> dict[str, Any]:
        """The JSON-ready `events` payload (schema v1); the publisher adds wall-clock time."""
        return {
            "v": SCHEMA_VERSION,
            "type": self.type,
            "id": self.id,
            "kind": self.kind,
            "level": self.level,
            "started_at": round(self.started_at, 3),
            "ended_at": None if self.ended_at is None else round(self.ended_at, 3),
            "t": round(self.t, 3),
            "acknowledged": self.acknowledged,
            "evidence": {k: _json_value(v) for k, v in self.evidence.items()},
        }


@dataclass(frozen=True, slots=True)
class Alert:
    """A snapshot of an active alert (one that has started and not ended)."""

    id: str
    kind: str
    level: AlertLevel
    started_at: float
    acknowledged: bool
    acknowledged_at: float | None
    warning_at: float | None  # when it first stood at warning or above
    cleared_at: float | None  # the condition has been clear since then (the alert is in its hold time)
    evidence: dict[str, EvidenceValue]


@dataclass(frozen=True, slots=True)
class AckResult:
    acknowledged: bool
    reason: str  # "acknowledged", or why not
    id: str | None = None
    kind: str | None = None


@dataclass(slots=True)
class _Live:
    id: str
    kind: str
    level: AlertLevel
    started_at: float
    level_since: float
    evidence: dict[str, EvidenceValue]
    last_event_t: float
    warning_at: float | None = None
    acknowledged: bool = False
    acknowledged_at: float | None = None
    ack_pending: bool = False
    cleared_at: float | None = None

    def event(self, type_: EventType, t: float, ended_at: float | None = None) -> AlertEvent:
        return AlertEvent(
            type_, self.id, self.kind, self.level, self.started_at, ended_at, dict(self.evidence), self.acknowledged, t
        )


def _rank(level: AlertLevel) -> int:
    return ALERT_LEVELS.index(level)


class AlertManager:
    def __init__(self, cfg: AlertsConfig, id_prefix: str, speed: SpeedConfig | None = None):
        """`speed`: when a speed reading counts and when the vehicle stands still (default: [speed]'s defaults)."""
        self.cfg = cfg
        self.speed_cfg = speed or SpeedConfig()
        self.id_prefix = id_prefix
        self._live: dict[str, _Live] = {}
        self._last_end: dict[str, float] = {}
        self._count = 0
        self._ended_ids: deque[str] = deque(maxlen=_ENDED_IDS_KEPT)

    def step(
        self,
        conditions: Mapping[str, Condition],
        now: float,
        speed_kmh: float | None = None,
        speed_t: float | None = None,
    ) -> list[AlertEvent]:
        """Advance to `now`. `speed_t` is when speed_kmh was measured (None: now). Events come in ALERT_KINDS order."""
        unknown = set(conditions) - set(ALERT_KINDS)
        if unknown:
            raise ValueError(f"unknown alert kinds {sorted(unknown)}")
        speed = fresh_speed(now, speed_kmh, speed_t, self.speed_cfg.max_age_s)
        events: list[AlertEvent] = []
        for kind in ALERT_KINDS:
            cond = conditions.get(kind, CLEAR)
            live = self._live.get(kind)
            event = self._start(kind, cond, now, speed) if live is None else self._continue(live, cond, now)
            if event is not None:
                events.append(event)
        return events

    def acknowledge(self, target: str, now: float) -> AckResult:
        """Acknowledge the active alert with this id, or of this kind. Stops its escalation."""
        live = self._live.get(target) or next((a for a in self._live.values() if a.id == target), None)
        if live is None:
            if target in self._ended_ids:
                reason = "alert has already ended"
            elif target in ALERT_KINDS:
                reason = f"no active {target} alert"
            else:
                reason = "no active alert with this id or kind"
            return AckResult(False, reason)
        if live.acknowledged:
            return AckResult(False, "already acknowledged", live.id, live.kind)
        live.acknowledged, live.acknowledged_at, live.ack_pending = True, now, True
        return AckResult(True, "acknowledged", live.id, live.kind)

    def active(self) -> list[Alert]:
        return [
            Alert(
                a.id,
                a.kind,
                a.level,
                a.started_at,
                a.acknowledged,
                a.acknowledged_at,
                a.warning_at,
                a.cleared_at,
                dict(a.evidence),
            )
            for a in (self._live[k] for k in ALERT_KINDS if k in self._live)
        ]

    def end_all(self, now: float, reason: str) -> list[AlertEvent]:
        """End every active alert at once (the daemon stops or reloads): subscribers must not be left with an
        alert that never ends. `reason` goes into the evidence."""
        events = []
        for kind in ALERT_KINDS:
            live = self._live.pop(kind, None)
            if live is None:
                continue
            live.evidence = {**live.evidence, "end_reason": reason}
            self._last_end[kind] = now
            self._ended_ids.append(live.id)
            events.append(live.event("end", now, ended_at=now))
        return events

    def warning_since(self, kinds: Iterable[str]) -> float | None:
        """The earliest time an active alert of these kinds reached warning or above; None if none has."""
        times = [a.warning_at for k in kinds if (a := self._live.get(k)) is not None and a.warning_at is not None]
        return min(times) if times else None

    # -- rules --------------------------------------------------------------------------------------------------

    def _gated(self, kind: str, speed: float | None) -> bool:
        if speed is None:
            return False  # unknown: moving
        if kind in STANDING_KINDS and motion(speed, self.speed_cfg.standing_kmh) == "standing":
            return True
        if kind in DDAW_KINDS:
            return speed < self.cfg.ddaw_min_speed_kmh
        if kind in ADDW_KINDS:
            return speed < self.cfg.addw_min_speed_kmh
        return False

    def _start(self, kind: str, cond: Condition, now: float, speed: float | None) -> AlertEvent | None:
        if not cond.active or self._gated(kind, speed):
            return None
        last_end = self._last_end.get(kind)
        if kind not in NO_COOLDOWN and last_end is not None and now - last_end < self.cfg.cooldown_s - _EPS:
            return None
        self._count += 1
        level = cond.level or getattr(self.cfg.levels, kind)
        live = _Live(
            id=f"{self.id_prefix}-{kind}-{self._count}",
            kind=kind,
            level=level,
            started_at=now,
            level_since=now,
            evidence=dict(cond.evidence),
            last_event_t=now,
            warning_at=now if _rank(level) >= 1 else None,
        )
        self._live[kind] = live
        return live.event("start", now)

    def _continue(self, live: _Live, cond: Condition, now: float) -> AlertEvent | None:
        cfg = self.cfg
        changed = False
        if cond.active:
            live.cleared_at = None
            live.evidence = dict(cond.evidence)
            wanted = cond.level or getattr(cfg.levels, live.kind)
            if _rank(wanted) > _rank(live.level):
                live.level, changed = wanted, True
            elif (
                not live.acknowledged
                and live.kind not in NO_ESCALATION
                and live.level != ALERT_LEVELS[-1]
                and now - live.level_since >= cfg.escalate_after_s - _EPS
            ):
                live.level, changed = ALERT_LEVELS[_rank(live.level) + 1], True
            if changed:
                live.level_since = now
                if live.warning_at is None and _rank(live.level) >= 1:
                    live.warning_at = now
        else:
            if live.cleared_at is None:
                live.cleared_at = now
            if now - live.cleared_at >= cfg.hold_s - _EPS:
                del self._live[live.kind]
                self._last_end[live.kind] = now
                self._ended_ids.append(live.id)
                return live.event("end", now, ended_at=live.cleared_at)
        if changed or live.ack_pending or now - live.last_event_t >= cfg.update_interval_s - _EPS:
            live.last_event_t = now
            live.ack_pending = False
            return live.event("update", now)
        return None

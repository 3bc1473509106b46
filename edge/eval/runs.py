"""From a run of the product to samples and alerts: in-process, every frame's DriverState of a replay through the
real DriveSession; or a RUN.jsonl written by `dms replay --jsonl` (the state at state_hz and every alert event:
coarser, see JSONL_LIMITS and docs/eval.md)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge.config import Config
from edge.eval.detections import Sample, Thresholds
from edge.eval.scoring import LEVEL_ORDER, AlertRecord, Interval
from edge.monitor.alerts import AlertEvent
from edge.monitor.conditions import min_usable_quality
from edge.monitor.driver import DriverState
from edge.names import REPLAY_SUMMARY
from edge.skips import Skip

JSONL_LIMITS = (
    "from a RUN.jsonl (state at state_hz): face found % and eyes-visible % are over state messages, not frames; "
    "closure, off-road and no-face runs are seen only where a state message fell in them (closures also from "
    "microsleep/sleep alerts), their ends up to one state period early; a yawn's start is its count time less "
    "yawn_min_s, its end the first state with the mouth closed"
)


class RunInputError(ValueError):
    """A RUN.jsonl that cannot be read; the message names the file and line."""


def pose_reference(distraction: Any) -> str | None:
    """How the driver's road-ahead pose is known, as the state says (docs/calibration.md): "mount", "calibrating"
    or "calibrated", from a DriverState or a state payload; None where the state does not say."""
    calibration = getattr(distraction, "calibration", None)
    if calibration is None and isinstance(distraction, dict):
        calibration = distraction.get("calibration")
    status = calibration.get("status") if isinstance(calibration, dict) else getattr(calibration, "status", None)
    return status if isinstance(status, str) else None


def thresholds(cfg: Config) -> Thresholds:
    return Thresholds(yawn_end_mar=cfg.drowsiness.yawn_end_mar)


def _off_road_s(on_road: bool | None, off_road_s: float) -> float | None:
    """Off the road now: judged so, or not judged inside an off-road run the monitor keeps counting."""
    if on_road is False or (on_road is None and off_road_s > 0.0):
        return off_road_s
    return None


@dataclass
class _Alerts:
    """Alert starts, each with the highest level its updates reached."""

    clip: str
    by_id: dict[str, AlertRecord] = field(default_factory=dict)

    def event(self, type_: str, id_: str, kind: str, level: str, started_at: float) -> None:
        if type_ == "start":
            self.by_id[id_] = AlertRecord(self.clip, kind, level, level, started_at)
        elif (rec := self.by_id.get(id_)) is not None and LEVEL_ORDER.index(level) < LEVEL_ORDER.index(rec.max_level):
            self.by_id[id_] = AlertRecord(rec.clip, rec.kind, rec.level, level, rec.t)

    def records(self) -> list[AlertRecord]:
        return sorted(self.by_id.values(), key=lambda a: a.t)


class StateRecorder:
    """Every DriverState of a replay, as it is stepped (DriveSession's states, in order), to samples and alerts."""

    def __init__(self, clip: str, cfg: Config):
        self.clip = clip
        self._min_quality = min_usable_quality(cfg)
        self._rows: list[tuple[Any, ...]] = []
        self._alerts = _Alerts(clip)
        self.times: list[float] = []  # every frame's time, by frame index order

    def __call__(self, state: DriverState) -> None:
        obs, drowsy, dist = state.obs, state.drowsiness, state.distraction
        yawn = next((e.start for e in drowsy.episodes if e.kind == "yawn"), None)
        self._rows.append((
            obs.t, obs.present, obs.present and obs.quality >= self._min_quality, state.eyes.visible,
            drowsy.closure_s if drowsy.eyes_closed else None, _off_road_s(dist.on_road, dist.off_road_s), yawn,
            obs.mar if obs.present else None, pose_reference(dist),
        ))
        self.times.append(obs.t)
        self._events(state.events)

    def _events(self, events: Iterable[AlertEvent]) -> None:
        for e in events:
            self._alerts.event(e.type, e.id, e.kind, e.level, e.started_at)

    def samples(self, fps: float) -> list[Sample]:
        out = []
        for i, (t, *rest) in enumerate(self._rows):
            t_end = self._rows[i + 1][0] if i + 1 < len(self._rows) else t + 1.0 / fps
            out.append(Sample(t, t_end, *rest))
        return out

    def alerts(self) -> list[AlertRecord]:
        return self._alerts.records()


@dataclass(frozen=True, slots=True)
class JsonlRun:
    samples: list[Sample]
    alerts: list[AlertRecord]
    closures_from_alerts: tuple[Interval, ...]  # microsleep/sleep alerts: closures the state messages may miss
    skipped: tuple[Skip, ...] = ()  # what the replay that wrote the file skipped (its last line)


def read_jsonl(path: Path, clip: str, cfg: Config, fps: float) -> JsonlRun:
    """A RUN.jsonl of `dms replay --jsonl`. Raises RunInputError."""
    states: list[dict[str, Any]] = []
    alerts = _Alerts(clip)
    closures: dict[str, tuple[float, float]] = {}  # microsleep/sleep alert id: (closure start, when it ended)
    skipped: list[Skip] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise RunInputError(f"{path}: cannot read ({err})") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            message = json.loads(line)
            topic, payload = message["topic"], message["payload"]
            if topic == "state":
                states.append(payload)
            elif topic == REPLAY_SUMMARY:
                skipped += [Skip.from_payload(s) for s in payload["skipped"]]
            elif topic == "events":
                kind, started = payload["kind"], float(payload["started_at"])
                alerts.event(payload["type"], payload["id"], kind, payload["level"], started)
                if kind in ("microsleep", "sleep"):
                    if payload["type"] == "start":
                        closure_s = float((payload.get("evidence") or {}).get("closure_s") or 0.0)
                        closures[payload["id"]] = (started - closure_s, started)
                    elif payload["type"] == "end" and payload["id"] in closures:
                        closures[payload["id"]] = (closures[payload["id"]][0], float(payload["ended_at"] or started))
        except (ValueError, KeyError, TypeError) as err:
            raise RunInputError(f"{path}:{n}: not a message of dms replay --jsonl ({err})") from None
    if not states:
        raise RunInputError(f"{path}: no state messages (not written by dms replay --jsonl?)")
    try:
        samples = _state_samples(states, cfg, fps)
    except (KeyError, TypeError, ValueError) as err:
        raise RunInputError(f"{path}: a state message lacks what scoring needs ({err})") from None
    return JsonlRun(samples, alerts.records(), tuple(Interval(a, b) for a, b in closures.values()), tuple(skipped))


def _state_samples(states: list[dict[str, Any]], cfg: Config, fps: float) -> list[Sample]:
    min_quality = min_usable_quality(cfg)
    out: list[Sample] = []
    yawns = 0
    for p in states:
        t, face, eyes, dist = float(p["t"]), p["face"], p["eyes"], p["distraction"]
        present = bool(face["present"])
        closed_s = float(eyes["closed_s"] or 0.0)
        count = int(p["drowsiness"]["yawns"])
        yawn = t - cfg.drowsiness.yawn_min_s if count > yawns else None
        yawns = count
        mar = (p.get("mouth") or {}).get("mar")
        out.append(Sample(
            t, t + 1.0 / fps, present, present and float(face["quality"] or 0.0) >= min_quality,
            bool(eyes["visible"]), closed_s if closed_s > 0.0 else None,
            _off_road_s(dist["on_road"], float(dist["off_road_s"] or 0.0)), yawn,
            float(mar) if mar is not None and present else None, pose_reference(dist),
        ))
    return out

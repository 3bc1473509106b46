"""The driver monitor: every observation in, the driver's state and the alert events out. Pure: time comes with
the observation, speed (when there is a source) with its own time.

Order per step: eyes → drowsiness, head pose → distraction, emotion → its window, the face's and the modalities'
votes → fusion, then the conditions, then the alert state machine. `warning_since` is read before this step's
alerts: a one-frame lag, by design (the "no return within 3 s of a warning" rule needs the warning to exist first).

Modalities (edge.modalities) are known only through their ModalityKind: the monitor keeps each one's latest
estimate for the state and its latest vote for fusion, whatever the modality is.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from edge.config import Config
from edge.modalities import REGISTERED
from edge.modalities.base import ModalityKind
from edge.monitor.alerts import AlertEvent, AlertManager
from edge.monitor.conditions import UNRESPONSIVE_WATCH, ConditionInputs, ConditionTracker
from edge.monitor.distraction import DistractionMonitor, DistractionSample, DistractionState
from edge.monitor.drowsiness import DrowsinessMonitor, DrowsinessSample, DrowsinessState
from edge.monitor.emotion import EmotionSummary, EmotionWindow
from edge.monitor.eyes import EyeOpenness, EyeReading
from edge.monitor.fusion import Fusion, FusionState, ModalityEstimate, face_estimate, stress_level
from edge.monitor.motion import fresh_speed
from edge.monitor.pose_calibration import VehicleFrame
from edge.types import FaceObservation


def fusion_max_ages(cfg: Config, kinds: Sequence[ModalityKind] = REGISTERED) -> dict[str, float]:
    """Every source that votes in fusion, in the order fusion names them, with its max age."""
    ages = {"face": cfg.fusion.face_max_age_s}
    for kind in kinds:
        if kind.fusion is not None and kind.max_age_s is not None:
            ages[kind.name] = kind.max_age_s(cfg)
    return ages


@dataclass(frozen=True, slots=True)
class ModalityReading:
    kind: ModalityKind
    estimate: Any  # the latest estimate; before the first, kind.unknown() saying "off" or kind.waiting


@dataclass(frozen=True, slots=True)
class ActiveAlert:
    id: str
    kind: str
    level: str
    started_at: float
    acknowledged: bool


@dataclass(frozen=True, slots=True)
class DriverState:
    obs: FaceObservation
    eyes: EyeReading
    drowsiness: DrowsinessState
    distraction: DistractionState
    fusion: FusionState
    emotion: EmotionSummary
    modalities: tuple[ModalityReading, ...]  # each modality's latest estimate, in the order of the kinds
    stress_level: str | None  # fusion.stress against alerts.stress_threshold: "low", "medium", "high"; None
    events: tuple[AlertEvent, ...]  # what the alert state machine emitted in this step
    alerts: tuple[ActiveAlert, ...]  # the alerts active after this step

    @property
    def t(self) -> float:
        return self.obs.t

    def estimate(self, name: str) -> Any:
        """The latest estimate of the modality called `name`."""
        for reading in self.modalities:
            if reading.kind.name == name:
                return reading.estimate
        raise KeyError(f"no modality {name!r}")


class DriverMonitor:
    # Built from the config by _PARTS, each rebuilt on reload only when its own config changed.
    eyes: EyeOpenness
    drowsiness: DrowsinessMonitor
    frame: VehicleFrame
    distraction: DistractionMonitor
    fusion: Fusion
    emotion: EmotionWindow
    conditions: ConditionTracker
    alerts: AlertManager

    def __init__(self, cfg: Config, alert_id_prefix: str, kinds: Sequence[ModalityKind] = REGISTERED,
                 present: Collection[str] = ()):
        """`alert_id_prefix` must differ between runs (a restart must not reuse alert ids, which subscribers
        de-duplicate on) and be stable for a replay of one recording (so replays are reproducible). `kinds`: the
        modalities whose estimates may come; `present`: the names of those that have a source, whose state says
        `kind.waiting` until their first estimate (the others say "off")."""
        self.kinds = tuple(kinds)
        self._prefix = alert_id_prefix
        self._keys: dict[str, object] = {}
        for part in _PARTS:
            setattr(self, part.attr, part.build(cfg, self))
            self._keys[part.attr] = part.key(cfg, self)
        self._stress_threshold = cfg.alerts.stress_threshold
        self._speed_max_age_s = cfg.speed.max_age_s
        self._calibration_min_speed_kmh = cfg.distraction.calibration_min_speed_kmh
        self._face: ModalityEstimate | None = None  # the last one: fusion itself decides when it is stale
        self._latest: dict[str, Any] = {
            k.name: k.unknown(0.0, k.waiting if k.name in present else "off") for k in self.kinds
        }
        self._votes: dict[str, ModalityEstimate | None] = {k.name: None for k in self.kinds if k.fusion}

    def reconfigure(self, cfg: Config, alert_id_prefix: str, t: float) -> tuple[list[AlertEvent], list[str]]:
        """Apply a new config between steps, rebuilding only the parts whose config changed: what the others
        learned about the driver is kept. Returns the `end` events of the alerts a rebuilt alert manager closed
        (reason "reconfigured"), and what was forgotten, in words. A rebuilt alert manager takes the new
        `alert_id_prefix`, so no id is used twice."""
        self._prefix = alert_id_prefix
        ended: list[AlertEvent] = []
        forgotten: list[str] = []
        for part in _PARTS:
            key = part.key(cfg, self)
            if key == self._keys[part.attr]:
                continue
            if part.attr == "alerts":
                ended = self.alerts.end_all(t, "reconfigured")
            setattr(self, part.attr, part.build(cfg, self))
            self._keys[part.attr] = key
            if part.forgets:
                forgotten.append(part.forgets)
        self._stress_threshold = cfg.alerts.stress_threshold
        self._speed_max_age_s = cfg.speed.max_age_s
        self._calibration_min_speed_kmh = cfg.distraction.calibration_min_speed_kmh
        return ended, forgotten

    def step(
        self,
        obs: FaceObservation,
        camera_ok: bool = True,
        speed_kmh: float | None = None,
        speed_t: float | None = None,
        sensor_faults: tuple[str, ...] = (),
        estimates: Mapping[str, Any] | None = None,
    ) -> DriverState:
        """`sensor_faults`: other sources that are configured but not working ("serial", "audio"): monitoring
        degraded, reported as such, never as a driver state. `estimates`: by modality name, an estimate made since
        the last step (a modality's stage makes one per hop)."""
        t = obs.t
        pose = self.frame.to_vehicle(obs.pose) if obs.present and obs.pose is not None else None
        eyes = self.eyes.step(obs, pose.pitch if pose else None)
        drowsiness = self.drowsiness.step(
            DrowsinessSample(
                t=t,
                eyes_closed_prob=eyes.closed_prob,
                mar=obs.mar if obs.present else None,
                pitch=pose.pitch if pose else None,
            )
        )
        # The landmark score, not the pose-weighted quality: a head turned past vision.max_pose_deg has quality 0,
        # yet that turn is exactly what distraction must see.
        distraction = self.distraction.step(
            DistractionSample(
                t=t,
                yaw=pose.yaw if pose else None,
                pitch=pose.pitch if pose else None,
                quality=(obs.landmark_score or 0.0) if pose else 0.0,
                may_learn_pose=self._moving(t, speed_kmh, speed_t),
            )
        )
        if obs.present and obs.emotion is not None:
            self._face = face_estimate(obs.emotion, obs.quality)
        emotion = self.emotion.step(t, obs.emotion if obs.present else None, obs.present)
        for name, estimate in (estimates or {}).items():
            self._take(name, estimate)
        fusion = self.fusion.step(t, {"face": self._face, **self._votes})
        conditions = self.conditions.step(
            ConditionInputs(
                t=t,
                camera_ok=camera_ok,
                face_present=obs.present,
                face_quality=obs.quality,
                eyes_visible=eyes.visible,
                drowsiness=drowsiness,
                distraction=distraction,
                fusion=fusion,
                warning_since=self.alerts.warning_since(UNRESPONSIVE_WATCH),
                sensor_faults=sensor_faults,
            )
        )
        events = self.alerts.step(conditions, t, speed_kmh, speed_t)
        active = tuple(ActiveAlert(a.id, a.kind, a.level, a.started_at, a.acknowledged) for a in self.alerts.active())
        readings = tuple(ModalityReading(k, self._latest[k.name]) for k in self.kinds)
        return DriverState(obs, eyes, drowsiness, distraction, fusion, emotion, readings,
                           stress_level(fusion.stress, self._stress_threshold), tuple(events), active)

    def _moving(self, t: float, speed_kmh: float | None, speed_t: float | None) -> bool:
        """Whether the vehicle moves, for learning the road-ahead pose; an unknown or stale speed counts as moving,
        as it does for the alerts' speed gating."""
        speed = fresh_speed(t, speed_kmh, speed_t, self._speed_max_age_s)
        return speed is None or speed >= self._calibration_min_speed_kmh

    def restart_modality(self, name: str, present: bool, t: float) -> None:
        """A modality rebuilt by a reload starts over: waiting for its first estimate (or "off" without a source),
        with no vote in fusion."""
        kind = self._kind(name)
        self._latest[name] = kind.unknown(t, kind.waiting if present else "off")
        if name in self._votes:
            self._votes[name] = None

    def _kind(self, name: str) -> ModalityKind:
        for kind in self.kinds:
            if kind.name == name:
                return kind
        raise ValueError(f"unknown modality {name!r}; expected one of {tuple(k.name for k in self.kinds)}")

    def _take(self, name: str, estimate: Any) -> None:
        """A modality's new estimate: the latest for the state; its vote, when it has one, for fusion (an estimate
        that does not vote leaves the last vote to go stale by itself)."""
        kind = self._kind(name)
        if estimate is None:
            return
        self._latest[name] = estimate
        if kind.fusion is not None:
            self._votes[name] = kind.fusion(estimate) or self._votes[name]

    def command(self, name: str, payload: dict[str, Any], now: float) -> dict[str, Any]:
        """A validated command (cmd/ack, cmd/calibrate) → the fields of its result on cmd/result. Not thread-safe:
        call it from the thread that calls step() (the daemon queues commands to its session worker)."""
        if name == "ack":
            target = payload.get("id") or payload.get("kind")
            result = self.alerts.acknowledge(str(target), now)
            return {"ok": result.acknowledged, "reason": result.reason, "id": result.id, "kind": result.kind}
        if name == "calibrate":
            what = payload.get("what", "all")
            if what in ("pose", "all"):
                self.distraction.reset_neutral()
            if what in ("eyes", "all"):
                self.eyes.reset()
            return {"ok": True, "reason": f"recalibrating {what}"}
        return {"ok": False, "reason": f"unknown command {name!r}"}


@dataclass(frozen=True, slots=True)
class _Part:
    """A part of the monitor: what config it is built from (compared on reload) and what a rebuild forgets."""

    attr: str
    key: Callable[[Config, DriverMonitor], object]
    build: Callable[[Config, DriverMonitor], Any]
    forgets: str


_PARTS: tuple[_Part, ...] = (
    _Part("eyes", lambda c, m: c.eyes, lambda c, m: EyeOpenness(c.eyes), "the driver's open-eye baseline"),
    _Part("drowsiness", lambda c, m: (c.drowsiness, c.eyes, c.camera.mount),  # nods see the vehicle-frame pitch
          lambda c, m: DrowsinessMonitor(c.drowsiness, c.eyes),
          "the drowsiness history (PERCLOS, blinks, episodes)"),
    _Part("frame", lambda c, m: c.camera.mount, lambda c, m: VehicleFrame(c.camera.mount.angles()),
          ""),
    _Part("distraction", lambda c, m: (c.distraction, c.camera.mount),
          lambda c, m: DistractionMonitor(c.distraction, c.camera.mount.configured),
          "the driver's road-ahead head pose"),
    _Part("fusion", lambda c, m: (c.fusion, fusion_max_ages(c, m.kinds)),
          lambda c, m: Fusion(c.fusion, fusion_max_ages(c, m.kinds)), "the smoothed arousal and stress"),
    _Part("emotion", lambda c, m: (c.vision.emotion_window_s, c.vision.emotion_hz),
          lambda c, m: EmotionWindow(c.vision.emotion_window_s, c.vision.emotion_hz), "the emotion window"),
    _Part("conditions", lambda c, m: (c.eyes, c.drowsiness, c.distraction, c.alerts),
          lambda c, m: ConditionTracker(c), "the alert conditions' timers"),
    _Part("alerts", lambda c, m: (c.alerts, c.speed.max_age_s, c.speed.standing_kmh),
          lambda c, m: AlertManager(c.alerts, m._prefix, c.speed), "the open alerts (ended)"),
)

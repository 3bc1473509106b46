"""The driver monitor: every observation in, the driver's state and the alert events out. Pure: time comes with
the observation, speed (when there is a source) with its own time.

Order per step: eyes → drowsiness, head pose → distraction, emotion → its window, face, voice and physiology →
fusion, then the conditions, then the alert state machine. `warning_since` is read before this step's alerts: a
one-frame lag, by design (the "no return within 3 s of a warning" rule needs the warning to exist first).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edge.config import Config
from edge.monitor.alerts import AlertEvent, AlertManager
from edge.monitor.conditions import UNRESPONSIVE_WATCH, ConditionInputs, ConditionTracker
from edge.monitor.distraction import DistractionMonitor, DistractionSample, DistractionState
from edge.monitor.drowsiness import DrowsinessMonitor, DrowsinessSample, DrowsinessState
from edge.monitor.emotion import EmotionSummary, EmotionWindow
from edge.monitor.eyes import EyeOpenness, EyeReading
from edge.monitor.fusion import (
    Fusion,
    FusionState,
    ModalityEstimate,
    face_estimate,
    physio_estimate,
    stress_level,
    voice_estimate,
)
from edge.types import FaceObservation, PhysioEstimate, VoiceEstimate


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
    voice: VoiceEstimate  # the latest voice estimate; unknown ("off") without audio
    physio: PhysioEstimate  # the latest physiology estimate; unknown ("off") without a physiology source
    stress_level: str | None  # fusion.stress against alerts.stress_threshold: "low", "medium", "high"; None
    events: tuple[AlertEvent, ...]  # what the alert state machine emitted in this step
    alerts: tuple[ActiveAlert, ...]  # the alerts active after this step

    @property
    def t(self) -> float:
        return self.obs.t


class DriverMonitor:
    def __init__(self, cfg: Config, alert_id_prefix: str, physio_source: bool | None = None):
        """`alert_id_prefix` must differ between runs (a restart must not reuse alert ids, which subscribers
        de-duplicate on) and be stable for a replay of one recording (so replays are reproducible).
        `physio_source`: whether physiology estimates will come (default: a serial port is configured); without,
        the state says "off", with, "no_sensor" until the first estimate."""
        self.eyes = EyeOpenness(cfg.eyes)
        self.drowsiness = DrowsinessMonitor(cfg.drowsiness, cfg.eyes)
        self.distraction = DistractionMonitor(cfg.distraction)
        self.fusion = Fusion(cfg.fusion)
        self.emotion = EmotionWindow(cfg.vision.emotion_window_s, cfg.vision.emotion_hz)
        self.conditions = ConditionTracker(cfg)
        self.alerts = AlertManager(cfg.alerts, alert_id_prefix)
        self._face: ModalityEstimate | None = None  # the last one: fusion itself decides when it is stale
        self._voice_modality: ModalityEstimate | None = None  # the last classified segment, for fusion
        self._voice = VoiceEstimate.unknown(0.0, "no_audio" if cfg.audio.enabled else "off")
        self._physio_modality: ModalityEstimate | None = None  # the last classified window, for fusion
        if physio_source is None:
            physio_source = cfg.serial.port is not None
        self._physio = PhysioEstimate.unknown(0.0, "no_sensor" if physio_source else "off")
        self._stress_threshold = cfg.alerts.stress_threshold

    def step(
        self,
        obs: FaceObservation,
        camera_ok: bool = True,
        speed_kmh: float | None = None,
        speed_t: float | None = None,
        sensor_faults: tuple[str, ...] = (),
        voice: VoiceEstimate | None = None,
        physio: PhysioEstimate | None = None,
    ) -> DriverState:
        """`sensor_faults`: other sources that are configured but not working ("serial", "audio"): monitoring
        degraded, reported as such, never as a driver state. `voice`, `physio`: an estimate made since the last
        step, if any (the voice and physiology stages make one per hop)."""
        t = obs.t
        eyes = self.eyes.step(obs)
        pose = obs.pose if obs.present else None
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
            )
        )
        if obs.present and obs.emotion is not None:
            self._face = face_estimate(obs.emotion, obs.quality)
        emotion = self.emotion.step(t, obs.emotion if obs.present else None, obs.present)
        if voice is not None:
            self._voice = voice
            self._voice_modality = voice_estimate(voice) or self._voice_modality
        if physio is not None:
            self._physio = physio
            self._physio_modality = physio_estimate(physio) or self._physio_modality
        modalities = {"face": self._face, "voice": self._voice_modality, "physio": self._physio_modality}
        fusion = self.fusion.step(t, modalities)
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
        return DriverState(obs, eyes, drowsiness, distraction, fusion, emotion, self._voice, self._physio,
                           stress_level(fusion.stress, self._stress_threshold), tuple(events), active)

    def command(self, name: str, payload: dict[str, Any], now: float) -> dict[str, Any]:
        """A validated command (cmd/ack, cmd/calibrate) → the fields of its result on cmd/result. Not thread-safe:
        call it from the thread that calls step() (the daemon queues commands to its vision worker)."""
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

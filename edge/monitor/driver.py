"""The driver monitor: every observation in, the driver's state out. Pure: time comes with the observation.

Today it holds eye openness and drowsiness; distraction, fusion and alerts join it behind the same `step`.
"""

from __future__ import annotations

from dataclasses import dataclass

from edge.config import Config
from edge.monitor.drowsiness import DrowsinessMonitor, DrowsinessSample, DrowsinessState
from edge.monitor.eyes import EyeOpenness, EyeReading
from edge.types import FaceObservation


@dataclass(frozen=True, slots=True)
class DriverState:
    obs: FaceObservation
    eyes: EyeReading
    drowsiness: DrowsinessState

    @property
    def t(self) -> float:
        return self.obs.t


class DriverMonitor:
    def __init__(self, cfg: Config):
        self.eyes = EyeOpenness(cfg.eyes)
        self.drowsiness = DrowsinessMonitor(cfg.drowsiness, cfg.eyes)

    def step(self, obs: FaceObservation) -> DriverState:
        eyes = self.eyes.step(obs)
        sample = DrowsinessSample(
            t=obs.t,
            eyes_closed_prob=eyes.closed_prob,
            mar=obs.mar if obs.present else None,
            pitch=obs.pose.pitch if obs.present and obs.pose else None,
        )
        return DriverState(obs, eyes, self.drowsiness.step(sample))

"""Eye openness and visibility from one observation, with the driver's own open-eye EAR learned online. Pure.

Each eye is judged only when it can be seen: a poor face, a head turned so far that the eye is self-occluded,
a crop too flat (dark glasses, a hand) or too saturated (glare) makes it not visible. An eye that is not visible
has no closed probability at all: it is never reported as closed.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from statistics import median

from edge.config import EyesConfig
from edge.types import EyeCropState, FaceObservation

_EAR_CUE_WIDTH = 0.08  # EAR/baseline ratio over which the EAR cue goes from ~27 % to ~73 % closed
_BASELINE_MAX_CLOSED = 0.2  # model P(closed) below which a frame teaches the open-eye baseline
_BASELINE_MIN_QUALITY = 0.6
_BASELINE_MAX_YAW = 20.0
_BASELINE_WINDOW = 600  # frames (~20 s at 30 fps): follows lighting and posture changes over a drive


@dataclass(frozen=True, slots=True)
class EyeReading:
    """Per eye (driver's left, right) and both: P(closed) of each visible eye, None where not visible."""

    t: float
    closed_left: float | None
    closed_right: float | None
    ear_baseline_left: float
    ear_baseline_right: float

    @property
    def visible(self) -> bool:
        return self.closed_left is not None or self.closed_right is not None

    @property
    def closed_prob(self) -> float | None:
        """Both eyes: the mean of the visible ones (an eye hidden by a turn does not vote)."""
        seen = [p for p in (self.closed_left, self.closed_right) if p is not None]
        return sum(seen) / len(seen) if seen else None


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, x))))


class EyeOpenness:
    def __init__(self, cfg: EyesConfig):
        self.cfg = cfg
        self._open_ears: tuple[deque[float], deque[float]] = (
            deque(maxlen=_BASELINE_WINDOW),
            deque(maxlen=_BASELINE_WINDOW),
        )
        self._baselines = [cfg.ear_default_baseline, cfg.ear_default_baseline]

    def reset(self) -> None:
        """A new driver (or a recalibration): forget the learned baseline."""
        self.__init__(self.cfg)

    def baseline(self, side: int) -> float:
        return self._baselines[side]

    def step(self, obs: FaceObservation) -> EyeReading:
        closed: list[float | None] = [None, None]
        if obs.present and obs.eye_states is not None and obs.quality >= self.cfg.min_face_quality:
            yaw = obs.pose.yaw if obs.pose else 0.0
            for side, (state, ear) in enumerate(zip(obs.eye_states, (obs.ear_left, obs.ear_right))):
                if ear is None or not self._visible(state, side, yaw):
                    continue
                self._learn(side, state.closed_prob, ear, obs.quality, yaw)
                ear_cue = _sigmoid((self.cfg.ear_closed_ratio - ear / self._baselines[side]) / _EAR_CUE_WIDTH)
                w = self.cfg.model_weight
                closed[side] = w * state.closed_prob + (1.0 - w) * ear_cue
        return EyeReading(obs.t, closed[0], closed[1], self._baselines[0], self._baselines[1])

    def _visible(self, state: EyeCropState, side: int, yaw: float) -> bool:
        if state.contrast < self.cfg.min_crop_contrast or state.saturated > self.cfg.max_saturated_fraction:
            return False
        # Turning to the left (yaw > 0) takes the left eye (side 0) away from the camera, and vice versa.
        far_side = 0 if yaw > 0 else 1
        return not (abs(yaw) > self.cfg.max_yaw_deg and side == far_side)

    def _learn(self, side: int, model_closed: float, ear: float, quality: float, yaw: float) -> None:
        if model_closed > _BASELINE_MAX_CLOSED or quality < _BASELINE_MIN_QUALITY or abs(yaw) > _BASELINE_MAX_YAW:
            return
        samples = self._open_ears[side]
        samples.append(ear)
        if len(samples) >= self.cfg.baseline_samples and len(samples) % 10 == 0:  # a median every 10 frames is plenty
            self._baselines[side] = median(samples)

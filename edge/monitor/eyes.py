"""Per eye, per frame: open, closed, or not seen (and why), with the driver's own open-eye EAR and usual head pitch
learned online. Pure.

Each eye is judged only when it can be seen: a poor face or a head turned so far that the eye is self-occluded
("turned_away"), a crop too saturated ("glare"), too flat ("occluded": a hand, an opaque lens), or skin around the
eye as dark as a lens ("dark_lenses") makes it not visible. An eye that is not visible has no closed probability at
all: it is never reported as closed. With the head pitched down ("downcast": eyes on the lap) the CNN's "closed"
needs the lid landmarks to agree: lowered lids look closed to the CNN, while FaceMesh's lid contour stays open.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from statistics import median
from typing import Literal

from edge.config import EyesConfig
from edge.config.vision import EYE_BASELINE_WINDOW
from edge.types import EyeCropState, FaceObservation

EyeStatus = Literal["open", "closed", "downcast", "dark_lenses", "occluded", "glare", "turned_away", "unseen"]
HIDDEN: tuple[EyeStatus, ...] = ("dark_lenses", "occluded", "glare", "turned_away", "unseen")

_EAR_CUE_WIDTH = 0.08  # EAR/baseline ratio over which the EAR cue goes from ~27 % to ~73 % closed
_BASELINE_MAX_CLOSED = 0.2  # model P(closed) below which a frame teaches the open-eye baseline
_BASELINE_MIN_QUALITY = 0.6
_BASELINE_MAX_YAW = 20.0
_MAX_LENS_GAP_S = 2.0  # no measurement for longer: the smoothed lens darkness starts over (another face, or none)


@dataclass(frozen=True, slots=True)
class EyeReading:
    """Per eye (driver's left, right) and both: P(closed) of each visible eye, None where not visible, and each
    eye's status (why it is not visible, or whether it is open, closed or looking down)."""

    t: float
    closed_left: float | None
    closed_right: float | None
    ear_baseline_left: float
    ear_baseline_right: float
    status_left: EyeStatus = "open"
    status_right: EyeStatus = "open"

    @property
    def visible(self) -> bool:
        return self.closed_left is not None or self.closed_right is not None

    @property
    def closed_prob(self) -> float | None:
        """Both eyes: the mean of the visible ones (an eye hidden by a turn does not vote)."""
        seen = [p for p in (self.closed_left, self.closed_right) if p is not None]
        return sum(seen) / len(seen) if seen else None

    @property
    def reason(self) -> EyeStatus | None:
        """Why no eye is visible (the first eye's reason, the nearer one's when the head is turned); None when
        one is visible."""
        if self.visible:
            return None
        if self.status_left == "turned_away":
            return self.status_right
        return self.status_left


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, x))))


class EyeOpenness:
    def __init__(self, cfg: EyesConfig):
        self.cfg = cfg
        self._open_ears: tuple[deque[float], deque[float]] = (
            deque(maxlen=EYE_BASELINE_WINDOW),
            deque(maxlen=EYE_BASELINE_WINDOW),
        )
        self._baselines = [cfg.ear_default_baseline, cfg.ear_default_baseline]
        self._pitches: deque[float] = deque(maxlen=EYE_BASELINE_WINDOW)
        self._pitch_baseline = 0.0  # facing the camera until the driver's own usual pitch is learned
        self._surround: list[float | None] = [None, None]  # smoothed surround ratio per eye
        self._surround_t: list[float] = [-math.inf, -math.inf]

    def reset(self) -> None:
        """A new driver (or a recalibration): forget the learned baselines."""
        self.__init__(self.cfg)

    def baseline(self, side: int) -> float:
        return self._baselines[side]

    @property
    def pitch_baseline(self) -> float:
        return self._pitch_baseline

    def step(self, obs: FaceObservation, vehicle_pitch: float | None = None) -> EyeReading:
        """`vehicle_pitch`: the head pitch in the vehicle frame (turned by the camera mount), which "looking down"
        is judged on; without it, the camera's. Which eye a turned head hides is the camera's view, always."""
        closed: list[float | None] = [None, None]
        status: list[EyeStatus] = ["unseen", "unseen"]
        if obs.present and obs.eye_states is not None and obs.quality >= self.cfg.min_face_quality:
            yaw = obs.pose.yaw if obs.pose else 0.0
            pitch = vehicle_pitch if vehicle_pitch is not None else (obs.pose.pitch if obs.pose else None)
            # Turning to the left (yaw > 0) takes the left eye (side 0) away from the camera, and vice versa.
            far_side = (0 if yaw > 0 else 1) if abs(yaw) > self.cfg.max_yaw_deg else None
            for side, state in enumerate(obs.eye_states):
                if side != far_side:
                    self._smooth_surround(side, state.surround, obs.t)
            lenses = self._dark_lenses()
            downcast = pitch is not None and pitch - self._pitch_baseline <= -self.cfg.downcast_pitch_deg
            if pitch is not None and min(s.closed_prob for s in obs.eye_states) <= _BASELINE_MAX_CLOSED:
                self._learn_pitch(pitch)
            for side, (state, ear) in enumerate(zip(obs.eye_states, (obs.ear_left, obs.ear_right))):
                hidden = self._hidden(state, side == far_side, lenses)
                if ear is None or hidden is not None:
                    status[side] = hidden or "unseen"
                    continue
                self._learn(side, state.closed_prob, ear, obs.quality, yaw)
                ratio = ear / self._baselines[side]
                if downcast:  # the CNN's "closed" counts only where the lid landmarks have dropped too
                    p = state.closed_prob * _sigmoid((self.cfg.downcast_ear_ratio - ratio) / _EAR_CUE_WIDTH)
                else:
                    ear_cue = _sigmoid((self.cfg.ear_closed_ratio - ratio) / _EAR_CUE_WIDTH)
                    p = self.cfg.model_weight * state.closed_prob + (1.0 - self.cfg.model_weight) * ear_cue
                closed[side] = p
                shut = p >= self.cfg.closed_threshold  # as the drowsiness monitor starts a closure
                status[side] = "closed" if shut else ("downcast" if downcast else "open")
        return EyeReading(obs.t, closed[0], closed[1], self._baselines[0], self._baselines[1], status[0], status[1])

    def _hidden(self, state: EyeCropState, far: bool, lenses: bool) -> EyeStatus | None:
        if far:
            return "turned_away"
        if state.saturated > self.cfg.max_saturated_fraction:
            return "glare"
        if state.contrast < self.cfg.min_crop_contrast:
            return "occluded"
        return "dark_lenses" if lenses else None

    def _smooth_surround(self, side: int, value: float, t: float) -> None:
        """Time-weighted running mean (lens_smoothing_s): one reflection-lit frame must not lift a lens."""
        if not math.isfinite(value):
            return
        prev, dt = self._surround[side], t - self._surround_t[side]
        if prev is None or not 0.0 <= dt <= _MAX_LENS_GAP_S:
            self._surround[side] = value
        else:
            self._surround[side] = prev + (value - prev) * (1.0 - math.exp(-dt / self.cfg.lens_smoothing_s))
        self._surround_t[side] = t

    def _dark_lenses(self) -> bool:
        """Lenses come in pairs: both eyes' smoothed surround averaged, so one eye in shadow is not a lens."""
        # An eye not measured lately (the far eye of a turned head) does not vote with what it read long ago.
        latest = max(self._surround_t)
        seen = [v for v, at in zip(self._surround, self._surround_t)
                if v is not None and latest - at <= _MAX_LENS_GAP_S]
        return bool(seen) and sum(seen) / len(seen) < self.cfg.max_lens_surround

    def _learn_pitch(self, pitch: float) -> None:
        """The usual pitch: the median over frames with an eye open. Any judged face teaches it (a mirror camera
        sees the driver turned most of the time; the pitch is still the driver's own), and the median shrugs off
        the minority of frames spent looking down."""
        self._pitches.append(pitch)
        if len(self._pitches) >= self.cfg.baseline_samples and len(self._pitches) % 10 == 0:
            self._pitch_baseline = median(self._pitches)

    def _learn(self, side: int, model_closed: float, ear: float, quality: float, yaw: float) -> None:
        if model_closed > _BASELINE_MAX_CLOSED or quality < _BASELINE_MIN_QUALITY or abs(yaw) > _BASELINE_MAX_YAW:
            return
        samples = self._open_ears[side]
        samples.append(ear)
        if len(samples) >= self.cfg.baseline_samples and len(samples) % 10 == 0:  # a median every 10 frames is plenty
            self._baselines[side] = median(samples)

"""Reusing the last landmarks while the face is still: FaceMesh is most of a tracked frame's cost, and a driver looking
at the road holds still for much of the time.

After each FaceMesh run a small probe is cut from the frame at the landmarks: the face's square. On the next tracked
frame the same square is cut again; when it differs from the last run's by at most `threshold` gray levels on
average (the head has not moved) and the eye-state model found both eyes open on the last frame, the last landmarks
stand for this frame too, at most `max_reuse` frames in a row. The eye-state model still runs on every frame, on the
reused eye positions (right, since the head has not moved), so eye states are never stale; EAR, MAR and the head
pose are at most `max_reuse` frames old. Eye probes were tried and dropped: a 24 px eye crop changes by 2-16 gray
levels from one frame to the next on real clips (compression, gaze), blinks or not, so they decided nothing.
"""

from __future__ import annotations

import numpy as np

from edge.types import Box
from edge.vision.landmarks import LandmarkResult, crop, roi_from_landmarks

PROBE_PX = 24  # small enough to be cheap, large enough to average out the sensor's noise


def probe(gray: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The face's square (the next frame's landmark ROI), PROBE_PX wide, as int16."""
    return crop(gray, roi_from_landmarks(points), PROBE_PX).astype(np.int16)


class StillFace:
    def __init__(self, max_reuse: int, threshold: float, open_below: float):
        self.max_reuse = max_reuse
        self.threshold = threshold
        self.open_below = open_below  # the last frame's closed probability of both eyes must be below this
        self.reset()

    def reset(self) -> None:
        self._last: tuple[LandmarkResult, Box] | None = None
        self._probe: np.ndarray | None = None
        self._reused = 0

    def remember(self, gray: np.ndarray, found: tuple[LandmarkResult, Box]) -> None:
        """After a FaceMesh run on this frame."""
        self._reused = 0
        if self.max_reuse:
            self._last, self._probe = found, probe(gray, found[0].points)

    def reuse(self, gray: np.ndarray, closed_probs: tuple[float, ...]) -> tuple[LandmarkResult, Box] | None:
        """The last landmarks when they may stand for this frame, else None (run FaceMesh)."""
        if self._last is None or self._probe is None or self._reused >= self.max_reuse:
            return None
        if not closed_probs or max(closed_probs) >= self.open_below:
            return None
        if float(np.abs(probe(gray, self._last[0].points) - self._probe).mean()) > self.threshold:
            return None
        self._reused += 1
        return self._last

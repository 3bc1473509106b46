"""Facial emotion over time: the latest scores, and their mean and distribution over a sliding window.

In a car an emotion matters when it lasts, not frame by frame: `dominant` is the top class of the window mean (as
the cloud video APIs' window means are read), and `confidence` is its mean score scaled by how much of the window
is backed by estimates, so a window of mostly unusable faces says so. Pure: time comes with the estimates.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from edge.types import EMOTION_LABELS, EmotionEstimate

UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class EmotionSummary:
    scores: dict[str, float] | None  # the latest estimate; None while the face gives none
    t: float | None  # time of the frame the latest estimate came from
    dominant: str  # top class of the window mean, or "unknown"
    confidence: float | None  # window mean of the dominant class × the window's coverage
    window_mean: dict[str, float] | None
    window_distribution: dict[str, float] | None  # share of the window's estimates whose top class is each label
    window_n: int  # estimates in the window
    window_s: float
    reason: str | None  # why the latest scores are missing: "off", "no_face", "low_quality"; None when present


class EmotionWindow:
    def __init__(self, window_s: float, emotion_hz: float, labels: tuple[str, ...] = EMOTION_LABELS):
        self.window_s = window_s
        self.labels = labels
        self.enabled = emotion_hz > 0
        self._expected_n = max(1.0, window_s * emotion_hz)  # estimates a fully covered window holds
        self._window: deque[tuple[float, np.ndarray]] = deque()
        self._stats: tuple[str, float, dict[str, float], dict[str, float], int] | None = None

    def step(self, t: float, estimate: EmotionEstimate | None, face_present: bool) -> EmotionSummary:
        """`estimate` is the observation's (it repeats between emotion runs: each is counted once)."""
        changed = False
        if estimate is not None and (not self._window or estimate.t > self._window[-1][0]):
            self._window.append((estimate.t, np.array([estimate.scores[k] for k in self.labels])))
            changed = True
        while self._window and self._window[0][0] <= t - self.window_s:
            self._window.popleft()
            changed = True
        if changed or self._stats is None:  # the window's statistics change only with its estimates
            self._stats = self._window_stats()
        latest = estimate if face_present else None
        reason = None if latest else ("off" if not self.enabled else "no_face" if not face_present else "low_quality")
        scores = None if latest is None else dict(latest.scores)
        latest_t = latest.t if latest else None
        if self._stats is None:
            return EmotionSummary(scores, latest_t, UNKNOWN, None, None, None, 0, self.window_s, reason)
        dominant, confidence, mean, distribution, n = self._stats
        return EmotionSummary(scores, latest_t, dominant, confidence, dict(mean), dict(distribution), n,
                              self.window_s, reason)

    def _window_stats(self) -> tuple[str, float, dict[str, float], dict[str, float], int] | None:
        """(dominant, confidence, window mean, window distribution, n); None for an empty window."""
        if not self._window:
            return None
        stacked = np.stack([scores for _, scores in self._window])
        mean = stacked.mean(axis=0)
        top = int(mean.argmax())
        shares = np.bincount(stacked.argmax(axis=1), minlength=len(self.labels)) / len(stacked)
        coverage = min(1.0, len(stacked) / self._expected_n)
        return (self.labels[top], float(mean[top] * coverage), {k: float(v) for k, v in zip(self.labels, mean)},
                {k: float(v) for k, v in zip(self.labels, shares)}, len(stacked))

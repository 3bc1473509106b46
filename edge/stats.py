"""Per-stage latency recording with bounded memory, and percentiles for `dms bench` and the stats topic."""

from __future__ import annotations

import threading
from collections import deque

import numpy as np


class StageTimer:
    """Keeps the last `window` durations (seconds) of each named stage. Thread-safe: the session worker records
    while the daemon's main thread reads and clears for the stats topic."""

    def __init__(self, window: int = 10_000):
        self.window = window
        self._samples: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def record(self, stage: str, seconds: float) -> None:
        with self._lock:
            q = self._samples.get(stage)
            if q is None:
                q = self._samples[stage] = deque(maxlen=self.window)
            q.append(seconds)

    def percentiles_ms(self, qs: tuple[int, ...] = (50, 95, 99)) -> dict[str, dict[str, float]]:
        with self._lock:
            snapshot = {name: list(samples) for name, samples in self._samples.items()}
        out = {}
        for name, samples in snapshot.items():
            if samples:
                values = np.percentile(np.fromiter(samples, float), qs) * 1000.0
                row = {f"p{q}_ms": round(float(v), 3) for q, v in zip(qs, values)}
                row["count"] = len(samples)
                out[name] = row
        return out

    def clear(self) -> None:
        with self._lock:
            self._samples.clear()

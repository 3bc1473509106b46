"""The in-memory audio ring and the chunk it hands out: mono 16 kHz int16 samples with their pipeline times.

Privacy: audio lives only here, overwritten in place; nothing in it is written to disk, logged or published.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

import numpy as np

from edge.config import AudioConfig

SAMPLE_RATE = 16000  # VAD, MFCC and the voice model are all pinned to it
SAMPLE_WIDTH = 2  # bytes: int16 PCM


@dataclass(frozen=True, slots=True, eq=False)
class AudioChunk:
    samples: np.ndarray  # int16, mono
    t_start: float  # pipeline time of the first sample
    t_end: float  # pipeline time of the last (newest) sample
    position: int  # index of the first sample since the source started: consecutive chunks continue it
    sample_rate: int = SAMPLE_RATE

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate


class AudioRing:
    """A fixed-capacity ring of int16 samples; written by the capture callback, read by the audio worker.

    Positions count samples since the ring was made. Each write records the pipeline time of its newest sample, so
    every sample's time is known even across a gap (a reopen). `read_new()` is the worker's cursor: samples
    overwritten before it took them are counted in `overrun` (the reader fell behind), so that samples returned by
    `read_new` + `overrun` + samples still unread == `written` at all times. `newest()` and `since()` do not move
    the cursor.
    """

    def __init__(self, capacity: int, sample_rate: int = SAMPLE_RATE):
        if capacity < 1:
            raise ValueError(f"ring capacity {capacity}: must be at least 1 sample")
        self.capacity = capacity
        self.sample_rate = sample_rate
        self._buf = np.zeros(capacity, dtype=np.int16)
        self._lock = threading.Lock()
        # Guarded by self._lock.
        self._written = 0
        self._cursor = 0
        self._overrun = 0
        self._blocks: deque[tuple[int, float]] = deque()  # per write: (end position, time of its last sample)

    @property
    def written(self) -> int:
        with self._lock:
            return self._written

    @property
    def overrun(self) -> int:
        with self._lock:
            return self._overrun

    @property
    def newest_t(self) -> float | None:
        """Pipeline time of the newest sample; None before the first write. Cheap: no samples are copied."""
        with self._lock:
            return self._blocks[-1][1] if self._blocks else None

    def write(self, samples: np.ndarray, t_end: float) -> None:
        """Append `samples` (int16); `t_end` is the pipeline time of the last of them."""
        data = np.asarray(samples, dtype=np.int16).ravel()
        n = len(data)
        if n == 0:
            return
        with self._lock:
            end = self._written + n
            keep = data[-self.capacity :]  # a write longer than the ring keeps only its tail
            start = (end - len(keep)) % self.capacity
            first = min(len(keep), self.capacity - start)
            self._buf[start : start + first] = keep[:first]
            self._buf[: len(keep) - first] = keep[first:]
            self._written = end
            self._blocks.append((end, float(t_end)))
            oldest = end - self.capacity
            if self._cursor < oldest:
                self._overrun += oldest - self._cursor
                self._cursor = oldest
            while self._blocks and self._blocks[0][0] <= oldest:
                self._blocks.popleft()

    def newest(self, n: int) -> AudioChunk | None:
        """The last `n` samples written (fewer if fewer were written); None before the first write."""
        with self._lock:
            return self._chunk(max(self._written - max(0, n), self._written - self.capacity, 0))

    def since(self, position: int) -> tuple[AudioChunk | None, int]:
        """Samples from `position` on, and how many of those were already overwritten (left out)."""
        with self._lock:
            oldest = max(0, self._written - self.capacity)
            lost = max(0, oldest - position)
            return self._chunk(max(position, oldest)), lost

    def read_new(self) -> AudioChunk | None:
        """Every sample written since the last read_new that is still in the ring; None when there is none."""
        with self._lock:
            chunk = self._chunk(self._cursor)
            self._cursor = self._written
            return chunk

    def _chunk(self, start: int) -> AudioChunk | None:
        n = self._written - start
        if n <= 0:
            return None
        begin = start % self.capacity
        first = min(n, self.capacity - begin)
        samples = np.concatenate((self._buf[begin : begin + first], self._buf[: n - first]))
        return AudioChunk(samples, self._time_at(start), self._time_at(self._written - 1), start, self.sample_rate)

    def _time_at(self, position: int) -> float:
        # The write that holds `position` is the first (oldest) block that ends after it; reads are mostly recent.
        found = self._blocks[-1]
        for block in reversed(self._blocks):
            if block[0] <= position:
                break
            found = block
        end, t_end = found
        return t_end - (end - 1 - position) / self.sample_rate


def ring_for(cfg: AudioConfig) -> AudioRing:
    """The ring the audio config asks for (ring_s seconds at SAMPLE_RATE): the microphone's, and replay's."""
    return AudioRing(int(cfg.ring_s * SAMPLE_RATE))

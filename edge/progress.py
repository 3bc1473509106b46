"""A one-line progress bar on a terminal (stderr); silent when stderr is not a terminal."""

from __future__ import annotations

import sys
import time
from typing import IO


class ProgressBar:
    def __init__(
        self, total: int | None, label: str = "", stream: IO[str] = sys.stderr, width: int = 30, enabled: bool = True
    ):
        self.total = total
        self.label = label
        self.stream = stream
        self.width = width
        self.enabled = enabled and stream.isatty()
        self._started = time.monotonic()
        self._last_draw = 0.0

    def update(self, done: int) -> None:
        now = time.monotonic()
        if not self.enabled or now - self._last_draw < 0.1:
            return
        self._last_draw = now
        rate = done / max(now - self._started, 1e-9)
        if self.total:
            frac = min(1.0, done / self.total)
            bar = "#" * int(frac * self.width)
            text = f"[{bar:<{self.width}}] {frac * 100:3.0f}% {done}/{self.total}"
        else:
            text = f"{done} frames"
        self.stream.write(f"\r{self.label}{text} {rate:5.0f} fps")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\r\033[K")
            self.stream.flush()

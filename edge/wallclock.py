"""Wall-clock times of pipeline times (the monotonic clock live, seconds from the drive's start in replay).

Live, the offset between the two clocks is read again at every conversion, so wall times follow a step of the system
clock: a board without a real-time clock boots with a wrong date and NTP steps it minutes later; with an offset taken
once at start, every later `wall_t` would stay off by the step. A step is logged and counted for health.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

log = logging.getLogger("edge.clock")

# A change of the offset larger than this is a step. Slewing (NTP's adjtime) moves it by at most 0.5 ms per second
# and steps under NTP's own step threshold (0.128 s) are slewed too: 1 s is far above both.
STEP_S = 1.0


def live_offset() -> float:
    return time.time() - time.monotonic()


def wall_iso(t_wall: float) -> str:
    return datetime.fromtimestamp(t_wall, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def iso_or_none(t: Any, offset: float) -> str | None:
    """ISO 8601 UTC of pipeline time `t`; None when `t` is not a finite number or out of datetime's range (the event
    still goes out)."""
    if not isinstance(t, (int, float)) or isinstance(t, bool) or not math.isfinite(t + offset):
        return None
    try:
        return wall_iso(t + offset)
    except (OverflowError, ValueError, OSError):
        return None


class WallClock:
    def __init__(self, fixed_offset: float | None = None, read_offset: Callable[[], float] = live_offset):
        """`fixed_offset`: wall seconds minus pipeline seconds, for a replay (its drive's `started_at`); None: live,
        `read_offset()` (wall minus monotonic) on every conversion."""
        self._fixed = fixed_offset
        self._read = read_offset
        self._lock = threading.Lock()
        self._offset = fixed_offset if fixed_offset is not None else read_offset()
        self.steps = 0
        self.last_step_s: float | None = None  # size of the last step (+: the clock went forward)

    def offset(self) -> float:
        if self._fixed is not None:
            return self._fixed
        current = self._read()
        with self._lock:
            step = current - self._offset
            self._offset = current
            if abs(step) > STEP_S:
                self.steps += 1
                self.last_step_s = step
                log.warning("the system clock stepped by %+.3f s; wall times follow it", step)
        return current

    def metrics(self) -> dict[str, Any]:
        self.offset()  # a step is reported at the next health message even when no event came since
        return {"clock_steps": self.steps, "last_clock_step_s": self.last_step_s}

"""Times from config made safe for every timer API the source threads call (wait, sleep, join, timeouts)."""

from __future__ import annotations

import math

MIN_WAIT_S = 0.01
MAX_WAIT_S = 3600.0


def safe_seconds(value: object, default: float) -> float:
    """`value` clamped to [MIN_WAIT_S, MAX_WAIT_S]; NaN or a non-number gives `default`. The config already bounds
    its times; the threads must not rely on that (a value built in code skips validation)."""
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return default
    if math.isnan(seconds):
        return default
    return min(max(seconds, MIN_WAIT_S), MAX_WAIT_S)

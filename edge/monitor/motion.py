"""The vehicle's motion from its speed: the one rule for when a reading counts and when the vehicle stands still.
Pure. Alert gating (alerts.py), the driver monitor and the speed modality's state section all read it from here.

A reading counts while it is fresh (at most speed.max_age_s old, on the pipeline clock); a stale or missing one is
unknown, and unknown counts as moving: without a speed every alert behaves as if there were no gating at all.
"""

from __future__ import annotations

import math
from typing import Literal

Motion = Literal["moving", "standing", "unknown"]


def fresh_speed(now: float, speed_kmh: float | None, speed_t: float | None, max_age_s: float) -> float | None:
    """The speed if it is a finite reading at most `max_age_s` old at `now` (`speed_t` None: measured now)."""
    if speed_kmh is None or not math.isfinite(speed_kmh):
        return None
    if speed_t is not None and now - speed_t > max_age_s:
        return None
    return speed_kmh


def motion(speed: float | None, standing_kmh: float) -> Motion:
    """A fresh speed (fresh_speed) → moving or standing; None → unknown (which gating treats as moving)."""
    if speed is None:
        return "unknown"
    return "standing" if speed <= standing_kmh else "moving"

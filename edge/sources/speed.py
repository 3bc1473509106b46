"""The vehicle's speed, live: one supervised base (supervised.py) under the MQTT, gpsd and OBD-II sources.

A source keeps only its latest reading (km/h, and its time on the pipeline clock): the speed modality reads it at
every step (edge/modalities/speed.py). A reading that is not a speed (not a number, negative, beyond
MAX_SPEED_KMH) is counted as bad and skipped, never fatal. An open source without a reading for
speed.silent_after_s is reported silent; a failure (the broker, gpsd or the adapter gone) is reported and reopened
with backoff, as every supervised source is.
"""

from __future__ import annotations

import logging
import math
import time
from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from edge.config import SpeedConfig
from edge.sources.supervised import SourceState, SupervisedSource
from edge.sources.timing import safe_seconds

log = logging.getLogger("edge.speed")

# No road vehicle this project monitors goes faster; a larger value is a unit or parsing error.
MAX_SPEED_KMH = 400.0


@dataclass(frozen=True, slots=True)
class SpeedReading:
    t: float  # when it was measured, on the pipeline clock
    speed_kmh: float


def valid_speed(value: object) -> float | None:
    """A speed in km/h from a decoded value, or None if it is not one (bool is not a number here)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        speed = float(value)
    except OverflowError:  # a JSON integer of hundreds of digits: garbage, never a reason to drop the link
        return None
    return speed if math.isfinite(speed) and 0.0 <= speed <= MAX_SPEED_KMH else None


class SpeedSource(SupervisedSource):
    """A live speed source on the thread "speed". Subclasses open their device in `_open_and_pump`, call `_opened`
    once it is open, `_closed` when it is not any more, and `_accept` (or `_bad`) for each reading."""

    thread_name = "speed"
    _log = log
    _thread_role = "reader"
    _unavailable_note = "vehicle speed unknown (alerts are not gated)"
    _disabled_detail = "no speed source configured"
    name: ClassVar[str]  # the [speed] source it implements: "mqtt", "gpsd", "obd"

    def __init__(self, cfg: SpeedConfig, subject: str, clock: Callable[[], float] = time.monotonic,
                 join_timeout_s: float = 5.0):
        super().__init__(subject, clock, safe_seconds(cfg.reopen_initial_s, 0.5), safe_seconds(cfg.reopen_max_s, 10.0),
                         join_timeout_s)
        self.cfg = cfg
        self._silent_after = safe_seconds(cfg.silent_after_s, 5.0)
        self._opened_before = False
        # Guarded by self._lock.
        self._open = False
        self._opened_t: float | None = None
        self._latest: SpeedReading | None = None
        self._readings = 0
        self._bad = 0
        self._last_bad: str | None = None

    @property
    def enabled(self) -> bool:
        return self.cfg.source == self.name

    def latest(self) -> SpeedReading | None:
        """The newest reading (kept after it goes stale: the modality judges its age)."""
        with self._lock:
            return self._latest

    # -- for subclasses ---------------------------------------------------------------------------------------

    def _opened(self) -> None:
        with self._lock:
            if self._opened_before and self._failing:
                self._reopens += 1
            if self._failing:
                log.info("%s open again", self._subject)
            self._failing = False
            self._open = True
            self._opened_t = self._clock()
        self._opened_before = True

    def _closed(self) -> None:
        with self._lock:
            self._open = False

    def _accept(self, value: object, age_s: float = 0.0) -> bool:
        """A reading measured `age_s` ago; False (counted as bad) if it is not a speed."""
        speed = valid_speed(value)
        if speed is None:
            self._bad_input(f"not a speed in km/h: {value!r}")
            return False
        now = self._clock()
        with self._lock:
            self._latest = SpeedReading(now - max(0.0, age_s), speed)
            self._readings += 1
        return True

    def _bad_input(self, why: str) -> None:
        with self._lock:
            first = self._bad == 0
            self._bad += 1
            self._last_bad = why
        # The first bad input says what is wrong; the rest only count (a misconfigured publisher repeats itself).
        log.log(logging.WARNING if first else logging.DEBUG, "%s: bad input skipped: %s", self._subject, why)

    @abstractmethod
    def _open_and_pump(self) -> bool: ...

    # -- SupervisedSource hooks -------------------------------------------------------------------------------

    def _device_state(self, now: float) -> tuple[SourceState, str | None]:
        if not self._open:
            return "starting", self._last_error
        latest = self._latest
        since = self._opened_t if latest is None or self._opened_t is None or latest.t < self._opened_t else latest.t
        if since is None or now - since <= self._silent_after:
            return ("ok" if latest is not None else "starting"), None
        return "silent", f"{self._subject}: no speed for {now - since:.1f} s" + self._silence_hint()

    def _silence_hint(self) -> str:
        """Why it may be silent, for the health detail (the source's own words)."""
        return f" (last bad input: {self._last_bad})" if self._last_bad else ""

    def _metrics(self, now: float) -> dict[str, Any]:
        latest = self._latest
        return {
            "source": self.name,
            "readings": self._readings,
            "bad": self._bad,  # inputs that were not a speed: counted and skipped
            "speed_kmh": None if latest is None else latest.speed_kmh,
            "age_s": None if latest is None else max(0.0, now - latest.t),
            "reopens": self._reopens,
            "errors": self._errors,
        }


class NoSpeedSource(SpeedSource):
    """[speed] source = "none": starts nothing, health says "disabled"."""

    name = "none"

    @property
    def enabled(self) -> bool:
        return False

    def _open_and_pump(self) -> bool:  # pragma: no cover - never started
        return False

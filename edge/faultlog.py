"""Rate-limited logging of a fault that repeats (a failing disk write per event, a failing delete per round).

The first occurrence of a fault is logged at once, with its own message. Its repeats are counted and logged as one
summary line at most every `interval_s` ("outbox writes failing: 71 events in the last 60 s kept in memory"). A new
kind of the same fault (another error) is logged at once again; `clear` ends the fault, summarising what was not
logged yet. Keyed by fault name, so one instance serves a component. Thread-safe; the clock is injectable.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable

__all__ = ["FaultLog"]


@dataclass
class _Fault:
    kind: str
    summary: str  # a str.format template: {n} repeats since the last line, {s} seconds since it
    level: int
    last_line: float  # clock time of the last line logged for it
    quiet: int = 0  # repeats since then, not logged yet


class FaultLog:
    def __init__(self, logger: logging.Logger, interval_s: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self.log = logger
        self.interval_s = interval_s
        self.clock = clock
        self._faults: dict[str, _Fault] = {}
        self._lock = threading.Lock()

    def fault(self, name: str, message: str, *args: object, kind: str = "", level: int = logging.ERROR,
              summary: str = "{n} more in the last {s:.0f} s", exc_info: bool = False) -> None:
        """One occurrence of fault `name`. Logged (`message % args`) when it is the first, or of another `kind` than
        the one before; otherwise counted, and `summary` (formatted with n, s) is logged once `interval_s` has
        passed since the fault's last line."""
        now = self.clock()
        lines: list[tuple[int, str]] = []
        with self._lock:
            f = self._faults.get(name)
            if f is not None and f.kind == kind:
                f.quiet += 1
                if now - f.last_line < self.interval_s:
                    return
                lines.append((f.level, f.summary.format(n=f.quiet, s=now - f.last_line)))
                f.quiet, f.last_line = 0, now
            else:
                if f is not None and f.quiet:  # the repeats of the kind before
                    lines.append((f.level, f.summary.format(n=f.quiet, s=now - f.last_line)))
                self._faults[name] = _Fault(kind, summary, level, now)
        for lvl, line in lines:
            self.log.log(lvl, "%s", line)
        if f is None or f.kind != kind:
            self.log.log(level, message, *args, exc_info=exc_info)

    def clear(self, name: str, message: str | None = None, *args: object, level: int = logging.INFO) -> bool:
        """Fault `name` has ended: its repeats not logged yet are summarised, then `message` (if any) is logged, and
        its next occurrence is logged at once. False (and nothing logged) if it was not active."""
        with self._lock:
            f = self._faults.pop(name, None)
        if f is None:
            return False
        if f.quiet:
            self.log.log(f.level, "%s", f.summary.format(n=f.quiet, s=self.clock() - f.last_line))
        if message is not None:
            self.log.log(level, message, *args)
        return True

    def active(self, name: str) -> bool:
        with self._lock:
            return name in self._faults

"""Rate limiting on the pipeline clock (state messages, the emotion model)."""

from __future__ import annotations


class RateGate:
    """Lets one event through per 1/hz seconds of pipeline time; the first always passes.

    Due times stay on a fixed grid, so 2 Hz stays 2 Hz on a camera whose period does not divide 0.5 s; the next
    due time is always the first grid point after the event that passed, so two events never pass a frame apart;
    after a gap longer than a period (camera down) the grid restarts from now instead of bursting to catch up."""

    def __init__(self, hz: float):
        self.period = 1.0 / hz
        self._next: float | None = None

    def due(self, t: float) -> bool:
        if self._next is not None and t < self._next - 1e-9:
            return False
        if self._next is None or t - self._next > self.period:
            self._next = t + self.period
        else:
            while self._next <= t + 1e-9:
                self._next += self.period
        return True

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


class TokenBucket:
    """At most `rate` events per second on average, `burst` at once: a client that sends a few commands together is
    never refused, a flood is held to the rate. Not thread-safe: one thread takes."""

    def __init__(self, rate: float, burst: int, now: float):
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._t = now

    def take(self, now: float) -> bool:
        self._tokens = min(float(self.burst), self._tokens + max(0.0, now - self._t) * self.rate)
        self._t = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

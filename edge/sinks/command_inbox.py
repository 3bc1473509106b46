"""Commands as they arrive from the broker, on paho's network thread: held to a per-device rate, validated
(edge/sinks/commands.py), handed to the process's handler, answered on `cmd/result`.

Why a rate limit here: a flood of commands must not reach the worker that steps the session, and its answers must
not queue in the MQTT client in front of alert events. A command over the rate is refused at once, never silently
dropped. Refusals for rate are sent at QoS 0: they never take a place in the client's window of unacknowledged
QoS 1 messages, which is what alert events travel in. Results of admitted commands keep QoS 1 (docs/mqtt.md).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from edge.faultlog import FaultLog
from edge.rate import TokenBucket
from edge.sinks.commands import Command, CommandError, dispatch, parse_command, result_payload

log = logging.getLogger("edge.mqtt")

Handler = Callable[[Command], None]
Publish = Callable[[dict[str, Any], int], None]  # (cmd/result payload, QoS)
FLOOD_OVER_S = 1.0  # a flood is over when a command is admitted this long after the last refusal


class CommandInbox:
    def __init__(self, handler: Handler | None, publish: Publish, rate_per_s: float, burst: int,
                 clock: Callable[[], float] = time.monotonic):
        self.handler = handler
        self.publish = publish
        self.rate_per_s = rate_per_s
        self.clock = clock
        self._bucket = TokenBucket(rate_per_s, burst, clock())
        self.refused = 0  # commands refused for rate since start (health metric)
        self._faults = FaultLog(log, clock=clock)  # a flood logs once, then a count a minute, and when it is over
        self._last_refused = 0.0

    def receive(self, name: str, raw: bytes, retained: bool) -> None:
        """One command message (paho's thread). Never raises."""
        try:
            now = self.clock()
            admitted = self._bucket.take(now)
            self._log_flood(now, admitted)
            if admitted:
                dispatch(name, raw, retained, self.handler, self.answer)
            else:
                self._refuse_for_rate(name, raw)
        except Exception:  # noqa: BLE001 - paho's network thread must live on
            log.exception("MQTT command %s failed", name)

    def answer(self, result: dict[str, Any]) -> None:
        """A command's result (any thread)."""
        self.publish(result, 1)

    def _log_flood(self, now: float, admitted: bool) -> None:
        if not admitted:
            self.refused += 1
            self._last_refused = now
            self._faults.fault("flood", "MQTT: commands arrive faster than %g per second; the excess is refused",
                               self.rate_per_s, level=logging.WARNING,
                               summary="MQTT: {n} more command(s) refused in the last {s:.0f} s (rate limit)")
        elif now - self._last_refused >= FLOOD_OVER_S:
            self._faults.clear("flood", "MQTT: the command flood is over: %d refused since start", self.refused,
                               level=logging.WARNING)

    def _refuse_for_rate(self, name: str, raw: bytes) -> None:
        try:
            request_id = parse_command(name, raw)[1]
        except CommandError as err:
            request_id = err.request_id
        reason = f"rate limited: at most {self.rate_per_s:g} commands per second"
        self.publish(result_payload(name, request_id, {"ok": False, "reason": reason}), 0)

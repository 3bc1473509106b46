"""What leaves the monitor, in the order the MQTT contract gives it: alert events at once, the state at
`state_hz` on the pipeline clock. The drive session publishes through this one class, in replay as in the car,
so a replay's messages are the daemon's."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from edge.monitor.alerts import AlertEvent
from edge.monitor.driver import DriverState
from edge.names import EVENTS, STATE
from edge.rate import RateGate
from edge.sinks.base import Sink
from edge.state import state_payload

log = logging.getLogger("edge.publish")


class Publisher:
    def __init__(self, sinks: list[Sink], state_hz: float, isolate_sinks: bool = False):
        """`isolate_sinks`: a sink that raises is logged and the others still get the message (the daemon: one
        sink's fault must not stop monitoring); otherwise the error propagates (a replay fails loudly)."""
        self.sinks = sinks
        self.gate = RateGate(state_hz)
        self.isolate_sinks = isolate_sinks
        self.states = 0  # state messages published

    def publish(self, topic: str, payload: dict[str, Any]) -> None:
        for sink in self.sinks:
            if not self.isolate_sinks:
                sink.publish(topic, payload)
                continue
            try:
                sink.publish(topic, payload)
            except Exception:  # noqa: BLE001 - see isolate_sinks
                log.exception("publishing %s failed", topic)

    def driver_state(self, state: DriverState) -> bool:
        """Publish one step's events, and its state when due; True if the state was published."""
        self.events(state.events)
        if not self.gate.due(state.t):
            return False
        self.publish(STATE, state_payload(state))
        self.states += 1
        return True

    def events(self, events: Iterable[AlertEvent]) -> None:
        for event in events:
            self.publish(EVENTS, event.payload())

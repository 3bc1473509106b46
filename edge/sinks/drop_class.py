"""Which of the outbox's drop classes an alert event belongs to: what goes first when the outbox is full."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from edge.sinks.outbox import Kind

ALERTS_TRACKED = 1024  # open alerts whose last level is remembered


class DropClasses:
    """start/end: alert. An update is an alert when it changes the alert's level or acknowledgement (an escalation
    to critical must not be the first to go), or when it is the first seen of its alert (started before a restart);
    a repeated update (new evidence only) is telemetry. Not thread-safe: one pipeline thread publishes events."""

    def __init__(self) -> None:
        self._levels: OrderedDict[str, tuple[Any, Any]] = OrderedDict()  # alert id -> (level, acknowledged)

    def of(self, event: dict[str, Any]) -> Kind:
        typ, alert_id = event.get("type"), event.get("id")
        if not isinstance(alert_id, str):
            return "telemetry" if typ == "update" else "alert"
        current = (event.get("level"), event.get("acknowledged"))
        previous = self._levels.pop(alert_id, None)
        if typ != "end":
            self._levels[alert_id] = current
            while len(self._levels) > ALERTS_TRACKED:  # ends never seen: forget the oldest
                self._levels.popitem(last=False)
        if typ == "update" and previous == current:
            return "telemetry"
        return "alert"

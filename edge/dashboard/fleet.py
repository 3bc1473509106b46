"""The fleet as the dashboard knows it: every message of `dms/+/#` folded into per-device state. Pure: the caller
passes the receive time, stores the events and pushes the changes.

Events are de-duplicated on (device, id, type, t) as docs/mqtt.md asks (delivery is at least once); the keys of
the last MAX_SEEN events are remembered, and the store's own key catches what is older (a restart re-delivering).
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

from edge.dashboard import tiles
from edge.dashboard.messages import Malformed, Message
from edge.names import AVAILABILITY, CMD_RESULT, EVENTS, HEALTH, STATE, STATS

MAX_SEEN = 50_000  # event keys remembered for de-duplication
MAX_DEVICES = 1000  # a topic per device is free to create: a bound on what a stray publisher can make us hold
MAX_OPEN_ALERTS = 64  # per device: an alert whose end never came must not pile up forever
MAX_RESULTS = 20
EventKey = tuple[str, str, str, float]


def event_key(device: str, event: dict[str, Any]) -> EventKey:
    return device, event["id"], event["type"], float(event["t"])


@dataclass
class Device:
    id: str
    history_s: float
    availability: str = "unknown"
    last_seen: float | None = None
    state: dict[str, Any] | None = None
    health: dict[str, Any] | None = None
    temperature_c: float | None = None
    alerts: OrderedDict[str, dict[str, Any]] = field(default_factory=OrderedDict)  # open alerts by id, last message
    history: deque[dict[str, Any]] = field(default_factory=deque)  # chart points, oldest first
    results: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=MAX_RESULTS))
    malformed: int = 0

    def summary(self) -> dict[str, Any]:
        """A tile: availability, the driver, the open alerts, health and the SoC temperature."""
        return {
            "id": self.id,
            "availability": self.availability,
            "last_seen": self.last_seen,
            "driver": tiles.driver(self.state),
            "alerts": list(self.alerts.values()),
            "health": tiles.health(self.health),
            "temperature_c": self.temperature_c,
            "malformed": self.malformed,
        }

    def fold_event(self, event: dict[str, Any]) -> None:
        self.alerts.pop(event["id"], None)
        if event["type"] != "end":
            self.alerts[event["id"]] = event  # latest last: the page lists them in order of their last message
            while len(self.alerts) > MAX_OPEN_ALERTS:
                self.alerts.popitem(last=False)

    def add_point(self, point: dict[str, Any]) -> None:
        self.history.append(point)
        while self.history and point["ts"] - self.history[0]["ts"] > self.history_s:
            self.history.popleft()


class Fleet:
    def __init__(self, history_s: float = 600.0):
        self.history_s = history_s
        self.devices: dict[str, Device] = {}
        self._seen: OrderedDict[EventKey, None] = OrderedDict()
        self.counts = {"messages": 0, "malformed": 0, "duplicates": 0, "ignored": 0}

    def _device(self, device_id: str) -> Device | None:
        d = self.devices.get(device_id)
        if d is None and len(self.devices) < MAX_DEVICES:
            d = self.devices[device_id] = Device(device_id, self.history_s)
        return d

    def _remember(self, key: EventKey) -> bool:
        """False if the event was seen already."""
        if key in self._seen:
            return False
        self._seen[key] = None
        while len(self._seen) > MAX_SEEN:
            self._seen.popitem(last=False)
        return True

    def malformed(self, bad: Malformed) -> None:
        self.counts["malformed"] += 1
        d = self.devices.get(bad.device)
        if d is not None:
            d.malformed += 1

    def restore(self, device_id: str, event: dict[str, Any]) -> None:
        """An event from the store, at start: known (not pushed again when re-delivered), and its alert open or
        closed as it was."""
        d = self._device(device_id)
        if d is not None and self._remember(event_key(device_id, event)):
            d.fold_event(event)

    def apply(self, msg: Message, received: float) -> dict[str, Any] | None:
        """Fold one message; the change to push, or None (a duplicate event, or a device beyond MAX_DEVICES).
        Changes: {"type": "device"} (a new tile), plus "point" for a state, "event" for an alert message, "result"
        for a cmd/result."""
        self.counts["messages"] += 1
        d = self._device(msg.device)
        if d is None:
            self.counts["ignored"] += 1
            return None
        change: dict[str, Any] = {"type": "device", "device": msg.device}
        if msg.topic == EVENTS:
            if not self._remember(event_key(msg.device, msg.payload)):
                self.counts["duplicates"] += 1
                return None
            d.fold_event(msg.payload)
            change.update(type="event", event=msg.payload)
        elif msg.topic == STATE:
            d.state = msg.payload
            point = tiles.chart_point(msg.payload, received)
            d.add_point(point)
            change["point"] = point
        elif msg.topic == HEALTH:
            d.health = msg.payload
        elif msg.topic == STATS:
            d.temperature_c = tiles.num(msg.payload, "temperature_c")
        elif msg.topic == AVAILABILITY:
            d.availability = msg.payload
        elif msg.topic == CMD_RESULT:
            result = {**msg.payload, "received": round(received, 3)}
            d.results.append(result)
            change.update(type="result", result=result)
        d.last_seen = round(received, 3)
        change["summary"] = d.summary()
        return change

    def snapshot(self) -> list[dict[str, Any]]:
        return [d.summary() for d in sorted(self.devices.values(), key=lambda d: d.id)]

    def detail(self, device_id: str) -> dict[str, Any] | None:
        d = self.devices.get(device_id)
        if d is None:
            return None
        return {**d.summary(), "history": list(d.history), "results": list(d.results), "history_s": self.history_s}

"""A live sink's wall times follow a step of the system clock, and its health says the clock stepped."""

from __future__ import annotations

import json

from edge.sinks.mqtt import MqttSink
from edge.wallclock import WallClock
from tests.integration.test_mqtt import DEV, event, mqtt_cfg
from tests.mosquitto import Subscriber
from tests.polling import wait_until

YEAR = 365 * 86400.0


def test_wall_times_follow_a_clock_step(broker, tmp_path):
    offset = [1.7e9]  # wall minus monotonic, as the board reads it
    sub = Subscriber(broker, [f"dms/{DEV}/events", f"dms/{DEV}/health"])
    sink = MqttSink(mqtt_cfg(broker, tmp_path, homeassistant=False), DEV)
    sink.wall = WallClock(read_offset=lambda: offset[0])
    try:
        assert wait_until(lambda: sink.connected)
        sink.publish("events", event(0))  # start, t = 0
        offset[0] += YEAR  # NTP steps the clock of a board that booted a year behind
        sink.publish("events", event(1))  # update, t = 1
        sink.publish("health", {"v": 1, "t": 1.0, "components": {}})
        assert sub.wait_for(lambda m: len(sub.on(f"dms/{DEV}/events")) == 2 and sub.on(f"dms/{DEV}/health"))
        before, after = (json.loads(p) for p in sub.on(f"dms/{DEV}/events"))
        assert before["wall_t"] == "2023-11-14T22:13:20.000Z"
        assert after["wall_t"] == "2024-11-13T22:13:21.000Z" and after["wall_started_at"] == "2024-11-13T22:13:20.000Z"
        metrics = json.loads(sub.on(f"dms/{DEV}/health")[-1])["components"]["broker"]["metrics"]
        assert metrics["clock_steps"] == 1 and metrics["last_clock_step_s"] == YEAR
    finally:
        sink.close()
        sub.close()

"""The tests' broker and subscriber: tools/mqtt_broker.py, shared with the tools (tools/soak.py,
tools/bench_alert_latency.py), which must not import from tests/."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))

from mqtt_broker import MOSQUITTO, Mosquitto, Subscriber, available, free_port, stop_process  # noqa: E402

__all__ = ["MOSQUITTO", "Mosquitto", "Subscriber", "available", "free_port", "stop_process"]

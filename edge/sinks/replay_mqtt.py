"""`dms replay --mqtt URL`: publish a replay exactly as the daemon would, through an MQTT sink of its own."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

from edge.assets import cache_dir
from edge.config import Config
from edge.sinks.base import Sink
from edge.sinks.mqtt import MqttSink
from edge.sources.recording import ReplaySource, parse_started_at


def replay_mqtt_sink(cfg: Config, source: ReplaySource, connect_timeout_s: float = 5.0) -> Sink:
    """A sink publishing exactly what the daemon would, with its own outbox (not the daemon's) and wall-clock
    times from the drive's start (now, for a bare video)."""
    started = source.info.get("started_at")
    wall_offset = parse_started_at(started).timestamp() if started else time.time()
    # One outbox per replay run: concurrent replays must not send each other's rows.
    outbox = cache_dir() / "replay-outbox" / f"{cfg.device_id}-{os.getpid()}-{int(time.time())}.sqlite"
    mqtt = cfg.mqtt.model_copy(update={"outbox_path": outbox})
    sink = MqttSink(mqtt, cfg.device_id, wall_offset=wall_offset)
    deadline = time.monotonic() + connect_timeout_s
    while not sink.connected and time.monotonic() < deadline:
        time.sleep(0.02)
    if not sink.connected:
        sink.close()
        raise RuntimeError(f"cannot reach the MQTT broker at {mqtt.host}:{mqtt.port} within {connect_timeout_s:g} s")
    return _RemovedWhenDelivered(sink, outbox)


class _RemovedWhenDelivered:
    """A replay's own outbox is deleted once everything in it was delivered; what was not stays, and says so."""

    def __init__(self, sink: Any, outbox: Path):
        self.sink, self.outbox = sink, outbox

    def publish(self, topic: str, payload: dict[str, Any]) -> None:
        self.sink.publish(topic, payload)

    def close(self) -> None:
        self.sink.close()
        if self.sink.health().get("pending", 0) == 0:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.outbox}{suffix}").unlink(missing_ok=True)
        else:
            print(f"warning: undelivered events remain in {self.outbox}", file=sys.stderr)

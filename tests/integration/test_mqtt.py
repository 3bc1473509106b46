"""The MQTT sink against a real mosquitto on a free loopback port: availability, durable ordered events, HA."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest

from edge.config import Config, MqttConfig
from edge.monitor.driver import DriverMonitor
from edge.sinks.mqtt import MqttSink
from edge.sinks.outbox import Outbox
from edge.state import state_payload
from edge.types import FaceObservation, HeadPose
from tests.mosquitto import Mosquitto, Subscriber, available

pytestmark = pytest.mark.skipif(not available(), reason="needs mosquitto (apt-get install -y mosquitto)")

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = {p.stem: json.loads(p.read_text()) for p in (ROOT / "docs" / "schemas").glob("*.json")}
DEV = "dev1"


def schema_for(topic: str) -> str | None:
    rel = topic.removeprefix(f"dms/{DEV}/")
    if rel.startswith("events"):
        return "events"
    return {"state": "state", "health": "health", "stats": "stats", "cmd/result": "cmd_result"}.get(rel)


def validate_all(sub: Subscriber) -> int:
    """Every payload the sink published validates against its schema; returns how many were checked."""
    n = 0
    for topic, payload, _ in list(sub.messages):
        if topic == f"dms/{DEV}/availability":
            assert payload in (b"online", b"offline", b"stopped")
        elif (name := schema_for(topic)) is not None:
            jsonschema.validate(json.loads(payload), SCHEMAS[name])
            n += 1
    return n


def mqtt_cfg(broker: Mosquitto, tmp_path: Path, **kw) -> MqttConfig:
    kw.setdefault("outbox_path", tmp_path / "outbox.sqlite")
    return MqttConfig(host=broker.host, port=broker.port, reconnect_min_s=0.05, reconnect_max_s=0.2, **kw)


def event(i: int) -> dict:
    """Alert lifecycles of three messages each: start, update, end."""
    typ = ("start", "update", "end")[i % 3]
    started = float(i - i % 3)
    return {"v": 1, "type": typ, "id": f"alert-{i // 3}", "kind": "microsleep", "level": "warning",
            "started_at": started, "ended_at": float(i) if typ == "end" else None, "t": float(i),
            "acknowledged": False, "evidence": {"closed_s": 1.25, "source": "eyes"}}


def dedup(payloads: list[bytes]) -> list[tuple[str, str, float]]:
    seen: dict[tuple[str, str, float], None] = {}
    for p in payloads:
        doc = json.loads(p)
        seen.setdefault((doc["id"], doc["type"], doc["t"]), None)
    return list(seen)


def key(e: dict) -> tuple[str, str, float]:
    return (e["id"], e["type"], e["t"])


def wait_until(cond, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.01)
    return False


@pytest.fixture
def broker():
    b = Mosquitto()
    b.start()
    yield b
    b.close()


def test_availability_state_health_and_stopped(broker, tmp_path):
    sub = Subscriber(broker, [f"dms/{DEV}/#"])
    sink = MqttSink(mqtt_cfg(broker, tmp_path, homeassistant=False), DEV)
    assert wait_until(lambda: sink.connected)
    assert sub.wait_for(lambda m: (f"dms/{DEV}/availability", b"online", False) in m)
    # a real state payload, as the monitor makes it
    obs = FaceObservation(t=1.0, frame_index=3, present=True, quality=0.9, landmark_score=0.9, face_size_px=120.0,
                          pose=HeadPose(1.0, -2.0, 0.5), ear_left=0.3, ear_right=0.31, mar=0.1)
    state = state_payload(DriverMonitor(Config(), "test").step(obs))
    comp = {"state": "ok", "detail": None}
    health = {"v": 1, "t": 1.0, "status": "ok", "fps": 24.5, "dropped_frames": 2,
              "components": {"camera": {**comp, "metrics": {"fps": 30.0}}, "audio": {"state": "disabled"},
                             "serial": {"state": "disabled"}, "models": comp}}
    stats = {"v": 1, "t": 30.0, "interval_s": 30.0, "stages": {"vision": {"p50_ms": 8.0, "p99_ms": 14.0, "count": 700}},
             "cpu_percent": 55.0, "memory_mb": 210.0, "temperature_c": None}
    sink.publish("state", state)
    sink.publish("health", health)
    sink.publish("stats", stats)
    sink.publish("stats", {**stats, "cpu_percent": float("nan")})  # NaN is not JSON: null, never a crash
    assert sub.wait_for(lambda m: len([t for t, _, _ in m if t.endswith("/stats")]) == 2)
    assert sub.wait_for(lambda m: any(t.endswith("/health") for t, _, _ in m))
    published = json.loads(sub.on(f"dms/{DEV}/health")[0])
    assert published["components"]["broker"]["state"] == "ok"  # the sink adds its own link
    assert validate_all(sub) >= 3
    assert sink.health()["connected"] and sink.health()["pending"] == 0
    sink.close()
    late = Subscriber(broker, [f"dms/{DEV}/availability", f"dms/{DEV}/state"])  # retained values
    assert late.wait_for(lambda m: (f"dms/{DEV}/availability", b"stopped", True) in m)
    assert late.wait_for(lambda m: any(t.endswith("/state") and r for t, _, r in m))
    late.close()
    sub.close()


def test_sigkill_leaves_offline(broker, tmp_path):
    sub = Subscriber(broker, [f"dms/{DEV}/availability"])
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from edge.config import MqttConfig\n"
        "from edge.sinks.mqtt import MqttSink\n"
        f"cfg = MqttConfig(host='127.0.0.1', port={broker.port}, outbox_path=Path(sys.argv[1]), homeassistant=False)\n"
        f"sink = MqttSink(cfg, '{DEV}')\n"
        "while not sink.connected: time.sleep(0.01)\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "o.sqlite")], cwd=ROOT,
                            stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        online = (f"dms/{DEV}/availability", b"online", False)
        assert wait_until(lambda: sub.wait_for(lambda m: online in m, 0.1) or proc.poll() is not None, 20)
        assert proc.poll() is None, "the publisher died"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        assert sub.wait_for(lambda m: m[-1][1] == b"offline", timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        sub.close()
    late = Subscriber(broker, [f"dms/{DEV}/availability"])
    assert late.wait_for(lambda m: (f"dms/{DEV}/availability", b"offline", True) in m)
    late.close()


def test_events_survive_five_broker_restarts_in_order(tmp_path):
    broker = Mosquitto(persistence=True)  # the subscriber's session and queue survive the restarts
    broker.start()
    try:
        sub = Subscriber(broker, [f"dms/{DEV}/events", f"dms/{DEV}/events/+"], client_id="dms-test-sub",
                         persistent=True)
        sink = MqttSink(mqtt_cfg(broker, tmp_path, homeassistant=False), DEV, wall_offset=1.7e9)
        assert wait_until(lambda: sink.connected)
        sent, i = [], 0
        for _ in range(5):
            for _ in range(4):  # while up, some of them in flight when the broker goes
                sink.publish("events", event(i))
                sent.append(event(i))
                i += 1
            broker.stop()
            assert wait_until(lambda: not sink.connected)
            for _ in range(3):  # while down: only in the outbox
                sink.publish("events", event(i))
                sent.append(event(i))
                i += 1
            broker.start()
            assert wait_until(lambda: sink.connected)
        for _ in range(3):
            sink.publish("events", event(i))
            sent.append(event(i))
            i += 1
        want = [key(e) for e in sent]
        for topic in (f"dms/{DEV}/events", f"dms/{DEV}/events/microsleep"):
            assert sub.wait_for(lambda m: len(dedup([p for t, p, _ in m if t == topic])) >= len(want), 20)
        assert dedup(sub.on(f"dms/{DEV}/events")) == want  # exactly once after de-duplication, in order
        assert dedup(sub.on(f"dms/{DEV}/events/microsleep")) == want
        assert wait_until(lambda: sink.outbox.count() == 0)
        first = json.loads(sub.on(f"dms/{DEV}/events")[0])
        assert first["wall_t"] == "2023-11-14T22:13:20.000Z" and first["wall_ended_at"] is None
        assert validate_all(sub) >= 2 * len(want)
        assert sink.health()["reconnects"] == 5, sink.health()
        sink.close()
        sub.close()
    finally:
        broker.close()


def test_event_survives_publisher_restart(broker, tmp_path):
    broker.stop()
    cfg = mqtt_cfg(broker, tmp_path, homeassistant=False)
    sink = MqttSink(cfg, DEV, close_timeout_s=0.2)
    sink.publish("events", event(0))
    sink.close()  # broker down: the row stays in the outbox file
    with Outbox(cfg.outbox_path, cfg.outbox_max_rows) as box:
        assert box.count() == 2  # events and events/microsleep
    broker.start()
    sub = Subscriber(broker, [f"dms/{DEV}/events"])
    sink = MqttSink(cfg, DEV)  # a new process would do the same: same outbox file
    assert sub.wait_for(lambda m: len(m) >= 1, timeout=10)
    assert dedup(sub.on(f"dms/{DEV}/events")) == [key(event(0))]
    assert wait_until(lambda: sink.outbox.count() == 0)
    sink.close()
    sub.close()


def test_home_assistant_discovery_republished(broker, tmp_path):
    topic = f"homeassistant/device/{DEV}/config"
    sub = Subscriber(broker, [topic])
    sink = MqttSink(mqtt_cfg(broker, tmp_path), DEV)
    assert sub.wait_for(lambda m: len(m) == 1)
    config = json.loads(sub.messages[0][1])
    assert config["dev"]["ids"] == [f"dms_{DEV}"] and config["o"]["name"] == "edge-dms"
    assert {c["p"] for c in config["cmps"].values()} == {"sensor", "binary_sensor"}
    assert config["cmps"]["alert_microsleep"]["state_topic"] == f"dms/{DEV}/events/microsleep"
    assert config["availability"][0]["topic"] == f"dms/{DEV}/availability"
    sub.publish("homeassistant/status", "offline")
    sub.publish("homeassistant/status", "online")
    assert sub.wait_for(lambda m: len(m) == 2)
    assert sub.messages[1][1] == sub.messages[0][1]
    sink.close()
    sub.close()
    late = Subscriber(broker, [topic])
    assert late.wait_for(lambda m: len(m) == 1 and m[0][2])  # retained
    late.close()

"""The MQTT sink against a real mosquitto on a free loopback port: availability, durable ordered events, HA."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import jsonschema
import pytest

from edge.config import Config, MqttConfig
from edge.monitor.driver import DriverMonitor
from edge.sinks.jsonl import JsonlSink
from edge.sinks.mqtt import MAX_INFLIGHT, MqttSink
from edge.sinks.outbox import Outbox
from edge.state import state_payload
from edge.types import FaceObservation, HeadPose
from tests.mosquitto import Mosquitto, Subscriber, available
from tests.polling import wait_until
from tests.unit.test_outbox import FullDisk

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


_OK = {"state": "ok", "detail": None}
HEALTH = {"v": 1, "t": 1.0, "status": "ok", "fps": 24.5, "dropped_frames": 2,
          "components": {"camera": {**_OK, "metrics": {"fps": 30.0}}, "audio": {"state": "disabled"},
                         "serial": {"state": "disabled"}, "models": _OK}}


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


def test_availability_state_health_and_stopped(broker, tmp_path):
    sub = Subscriber(broker, [f"dms/{DEV}/#"])
    sink = MqttSink(mqtt_cfg(broker, tmp_path, homeassistant=False), DEV)
    assert wait_until(lambda: sink.connected)
    assert sub.wait_for(lambda m: (f"dms/{DEV}/availability", b"online", False) in m)
    # a real state payload, as the monitor makes it
    obs = FaceObservation(t=1.0, frame_index=3, present=True, quality=0.9, landmark_score=0.9, face_size_px=120.0,
                          pose=HeadPose(1.0, -2.0, 0.5), ear_left=0.3, ear_right=0.31, mar=0.1)
    state = state_payload(DriverMonitor(Config(), "test").step(obs))
    health = HEALTH
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


def broker_states(sub: Subscriber) -> list[tuple[str, str | None]]:
    """(state, detail) of the broker component in every health message received."""
    docs = [json.loads(p) for p in sub.on(f"dms/{DEV}/health")]
    return [(d["components"]["broker"]["state"], d["components"]["broker"].get("detail")) for d in docs]


def test_full_disk_loses_no_event(tmp_path, caplog):
    """The outbox cannot write (disk full): events are kept in memory, in order, and go out with the broker up and
    after it was down; reported as degraded once (not per event); when the disk has room again the retry moves the
    rows still in memory into the file and the link is ok."""
    broker = Mosquitto(persistence=True)  # the subscriber's queue survives the restart
    broker.start()
    try:
        events = [f"dms/{DEV}/events", f"dms/{DEV}/events/microsleep"]
        sub = Subscriber(broker, [*events, f"dms/{DEV}/health"], client_id="dms-test-full", persistent=True)
        sink = MqttSink(mqtt_cfg(broker, tmp_path, homeassistant=False), DEV, outbox_retry_s=0.2)
        assert wait_until(lambda: sink.connected)
        sink.publish("health", HEALTH)
        file = sink.outbox._file
        disk = file._db = FullDisk(file._db, fail_on="INSERT", sqlite_rolls_back=True)
        for i in range(3):
            sink.publish("events", event(i))  # broker up
        assert sub.wait_for(lambda m: len([t for t, _, _ in m if t in events]) >= 6)
        assert sub.wait_for(lambda m: ("degraded", ANY_DETAIL) in broker_states(sub))  # reported at once
        assert "disk is full" in str(broker_states(sub)[-1][1])
        states = [s for s, _ in broker_states(sub)]  # an "ok" may go twice: the pump's thread races the caller's
        assert states.count("degraded") == 1 and set(states[:-1]) == {"ok"}  # degraded once, not per event
        assert wait_until(lambda: sink.outbox.count() == 0)  # acknowledged: gone from memory
        broker.stop()
        assert wait_until(lambda: not sink.connected)
        sink.publish("events", event(3))  # broker down: only memory holds it
        health = sink.health()
        assert health["persist_failed"] == 4 and health["dropped_alerts"] == 0 and health["pending"] == 2
        assert health["state"] == "unavailable" and "disk is full" in health["detail"]
        assert file.count() == 0 and health["outbox_persistent"]  # the file is still there; it took nothing
        broker.start()
        assert wait_until(lambda: sink.connected)
        for topic in events:
            assert sub.wait_for(lambda m: len(dedup([p for t, p, _ in m if t == topic])) >= 4)
            assert dedup(sub.on(topic)) == [key(event(i)) for i in range(4)]
        assert sink.health()["state"] == "degraded"
        failed = [r for r in caplog.records if "outbox write failed" in r.getMessage()]
        assert len(failed) == 1, failed  # not once per event
        disk.fail = False  # the disk has room again: the retry makes the outbox durable again
        assert wait_until(lambda: sink.health()["state"] == "ok")
        assert sub.wait_for(lambda m: broker_states(sub)[-1] == ("ok", None))  # reported at once
        sink.publish("events", event(4))
        assert sink.outbox.in_memory() == 0 and sink.health()["persist_failed"] == 4  # stored in the file
        assert sub.wait_for(lambda m: len(dedup([p for t, p, _ in m if t == events[0]])) >= 5)
        assert dedup(sub.on(events[0])) == [key(event(i)) for i in range(5)]
        assert wait_until(lambda: sink.outbox.count() == 0)
        health = sink.health()
        assert health["state"] == "ok" and health["detail"] is None and health["persist_failed"] == 4
        assert validate_all(sub) >= 10
        sink.close()
        sub.close()
    finally:
        broker.close()


class _AnyDetail:
    def __eq__(self, other: object) -> bool:
        return True


ANY_DETAIL = _AnyDetail()


@pytest.mark.parametrize("where", ["parent_is_a_file", "path_is_a_folder"])
def test_unusable_outbox_path_falls_back_to_memory(broker, tmp_path, where):
    (tmp_path / "file").write_text("")
    path = tmp_path / "file" / "outbox.sqlite" if where == "parent_is_a_file" else tmp_path
    sub = Subscriber(broker, [f"dms/{DEV}/events", f"dms/{DEV}/health"])
    sink = MqttSink(mqtt_cfg(broker, tmp_path, homeassistant=False, outbox_path=path), DEV)  # does not raise
    assert wait_until(lambda: sink.connected)
    health = sink.health()
    assert health["state"] == "degraded" and health["detail"].startswith("outbox not persistent: ")
    assert health["outbox_persistent"] is False
    sink.publish("health", HEALTH)
    sink.publish("events", event(0))  # live alerts still go out
    assert sub.wait_for(lambda m: len(sub.on(f"dms/{DEV}/events")) == 1 and broker_states(sub))
    state, detail = broker_states(sub)[-1]
    assert state == "degraded" and detail.startswith("outbox not persistent: ")
    assert validate_all(sub) == 2
    assert wait_until(lambda: sink.outbox.count() == 0)
    sink.close()
    sub.close()


def test_paho_resends_after_a_reconnect(tmp_path, caplog):
    """A row handed to paho whose PUBACK never came (the broker froze, then died) is re-sent by paho itself after
    the reconnect, acknowledged and deleted; the outbox's own re-send (after the grace period) is not needed."""
    broker = Mosquitto(persistence=True)
    broker.start()
    try:
        topic = f"dms/{DEV}/events"
        sub = Subscriber(broker, [topic], client_id="dms-test-resend", persistent=True)
        broker.restart()  # a clean stop saves the subscriber's session: it survives the SIGKILL below
        sink = MqttSink(mqtt_cfg(broker, tmp_path, homeassistant=False), DEV)
        assert wait_until(lambda: sink.connected)
        broker.pause()
        sink.publish("events", event(0))
        assert wait_until(lambda: len(sink._handed) == 2)  # both rows written to the socket, no PUBACK
        broker.kill()
        assert wait_until(lambda: not sink.connected)
        assert sink.outbox.count() == 2
        broker.start()
        assert sub.wait_for(lambda m: len(m) >= 1, timeout=10)
        assert dedup(sub.on(topic)) == [key(event(0))]
        assert wait_until(lambda: sink.outbox.count() == 0)
        assert sink._handed == {} and sink.health()["reconnects"] == 1
        assert "re-sending from the outbox" not in caplog.text
        sink.close()
        sub.close()
    finally:
        broker.close()


def test_ack_before_publish_returns(broker, tmp_path):
    """The PUBACK can be handled before paho's publish() returned the mid to the pump: the row is still deleted,
    and no acknowledgement is remembered beyond that publish() call (mids wrap)."""
    sub = Subscriber(broker, [f"dms/{DEV}/events"])
    sink = MqttSink(mqtt_cfg(broker, tmp_path, homeassistant=False), DEV)
    assert wait_until(lambda: sink.connected)
    real, early = sink.client.publish, []

    def publish_then_wait_for_the_ack(topic, payload=None, qos=0, retain=False, properties=None):
        info = real(topic, payload, qos=qos, retain=retain, properties=properties)
        if topic.startswith(f"dms/{DEV}/events"):
            info.wait_for_publish(5)  # paho marks it published after on_publish ran: the ack came first
            early.append(info.mid)
        return info

    sink.client.publish = publish_then_wait_for_the_ack
    for i in range(3):
        sink.publish("events", event(i))
    assert sub.wait_for(lambda m: len(m) == 3)
    assert dedup(sub.on(f"dms/{DEV}/events")) == [key(event(i)) for i in range(3)]
    assert wait_until(lambda: sink.outbox.count() == 0)  # deleted, though on_publish knew none of the mids
    assert len(early) == 6 and sink._handed == {} and sink._early is None
    sink.close()
    sub.close()


def test_rows_in_flight_are_bounded_and_keep_their_order(broker, tmp_path):
    sub = Subscriber(broker, [f"dms/{DEV}/events"])
    sink = MqttSink(mqtt_cfg(broker, tmp_path, homeassistant=False), DEV)
    assert wait_until(lambda: sink.connected)
    broker.pause()  # no PUBACK until resumed
    try:
        for i in range(30):
            sink.publish("events", event(i))  # 60 rows
        assert wait_until(lambda: len(sink._handed) == MAX_INFLIGHT)
        time.sleep(0.2)
        assert len(sink._handed) == MAX_INFLIGHT and sink.outbox.count() == 60  # the rest waits in the outbox
    finally:
        broker.resume()
    assert sub.wait_for(lambda m: len(dedup(sub.on(f"dms/{DEV}/events"))) >= 30)
    assert dedup(sub.on(f"dms/{DEV}/events")) == [key(event(i)) for i in range(30)]
    assert wait_until(lambda: sink.outbox.count() == 0)
    sink.close()
    sub.close()


def test_disk_io_stays_off_the_callers_and_pahos_threads(broker, tmp_path):
    """The caller only stores the event (one transaction for both rows); reading, handing and deleting rows is the
    pump's: a slow disk delays deletes, never the frame loop nor paho's network thread."""
    sub = Subscriber(broker, [f"dms/{DEV}/events"])
    sink = MqttSink(mqtt_cfg(broker, tmp_path, homeassistant=False), DEV)
    assert wait_until(lambda: sink.connected)
    box, calls = sink.outbox, []

    def spy(name: str, delay: float = 0.0):
        real = getattr(box, name)

        def wrapper(*args, **kwargs):
            calls.append((name, threading.current_thread().name))
            time.sleep(delay)
            return real(*args, **kwargs)

        setattr(box, name, wrapper)

    spy("put_many")
    spy("pending")
    spy("delete_many", delay=1.0)  # a very slow disk
    t0 = time.monotonic()
    for i in range(3):
        sink.publish("events", event(i))
        time.sleep(0.05)  # acks come in between: the old inline deletes would block the next publish
    assert time.monotonic() - t0 < 0.15 + 0.5
    assert sub.wait_for(lambda m: len(m) == 3)
    assert wait_until(lambda: sink.outbox.count() == 0)
    me = threading.current_thread().name
    assert [t for n, t in calls if n == "put_many"] == [me] * 3  # one transaction per event
    assert {t for n, t in calls if n != "put_many"} == {"dms-mqtt-pump"}
    sink.close()
    sub.close()


def test_nan_is_null_in_mqtt_and_jsonl(broker, tmp_path):
    """Both sinks carry the same payloads: NaN and infinities become null in each."""
    sub = Subscriber(broker, [f"dms/{DEV}/events"])
    sink = MqttSink(mqtt_cfg(broker, tmp_path, homeassistant=False), DEV)
    assert wait_until(lambda: sink.connected)
    out = io.StringIO()
    payload = {**event(0), "evidence": {"closed_s": float("nan"), "perclos": float("-inf"), "source": "eyes"}}
    for s in (JsonlSink(out), sink):
        s.publish("events", payload)
    assert sub.wait_for(lambda m: len(m) == 1)
    raw = sub.on(f"dms/{DEV}/events")[0]
    assert b"NaN" not in raw and b"Infinity" not in raw and "NaN" not in out.getvalue()
    line = json.loads(out.getvalue())
    assert line["payload"]["evidence"] == {"closed_s": None, "perclos": None, "source": "eyes"}
    assert {k: v for k, v in json.loads(raw).items() if not k.startswith("wall_")} == line["payload"]
    validate_all(sub)
    sink.close()
    sub.close()


def test_updates_that_change_the_level_are_kept_like_alerts(broker, tmp_path):
    """The outbox drops telemetry first: an update that escalates (or acknowledges) an alert is an alert row."""
    broker.stop()  # rows stay in the outbox, to be looked at
    sink = MqttSink(mqtt_cfg(broker, tmp_path, homeassistant=False), DEV, close_timeout_s=0.1)
    base = {**event(0), "id": "a1"}
    sequence = [
        ({**base, "type": "start"}, "alert"),
        ({**base, "type": "update", "t": 1.0}, "telemetry"),  # new evidence only
        ({**base, "type": "update", "t": 2.0, "level": "critical"}, "alert"),  # escalation
        ({**base, "type": "update", "t": 3.0, "level": "critical"}, "telemetry"),
        ({**base, "type": "update", "t": 4.0, "level": "critical", "acknowledged": True}, "alert"),
        ({**base, "type": "end", "t": 5.0, "level": "critical", "acknowledged": True}, "alert"),
        ({**base, "id": "a0", "type": "update", "t": 6.0}, "alert"),  # started before a restart: unknown level
    ]
    for payload, _ in sequence:
        sink.publish("events", payload)
    rows = [r for r in sink.outbox.pending() if r.topic == f"dms/{DEV}/events"]
    assert [r.kind for r in rows] == [kind for _, kind in sequence]
    assert sink._drop_classes._levels == {"a0": ("warning", False)}  # an ended alert is forgotten
    sink.close()


def test_close_goes_on_when_the_outbox_fails(broker, tmp_path, caplog):
    """Issue 20: a drain loop that raised used to skip `stopped`, the disconnect, the pump join and the outbox close.
    Now each step is logged and the next one runs."""
    sink = MqttSink(mqtt_cfg(broker, tmp_path, homeassistant=False), DEV)
    assert wait_until(lambda: sink.connected)
    closed = []
    real_close = sink.outbox.close

    def broken_count() -> int:
        raise sqlite3.DatabaseError("database disk image is malformed")

    sink.outbox.count = broken_count  # type: ignore[method-assign]
    sink.outbox.close = lambda: closed.append(True) or real_close()  # type: ignore[method-assign]
    with caplog.at_level(logging.ERROR, logger="edge.mqtt"):
        sink.close()  # raises nothing
    late = Subscriber(broker, [f"dms/{DEV}/availability"])
    try:
        assert late.wait_for(lambda m: (f"dms/{DEV}/availability", b"stopped", True) in m)
    finally:
        late.close()
    assert closed == [True] and not sink._pump_thread.is_alive()
    failed = [r.getMessage() for r in caplog.records if "at close, could not" in r.getMessage()]
    assert any("drain the outbox" in m for m in failed) and any("count what is left" in m for m in failed)

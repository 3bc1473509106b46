"""The MQTT sink's outbox file under faults, against a real mosquitto: a damaged file is healed at start and its
readable rows are delivered; a file that becomes usable while running takes the events kept in memory; a damaged
file that cannot be moved aside leaves the sink in memory, and health says why."""

from __future__ import annotations

import json
import os
import random
import sqlite3
from pathlib import Path

import pytest

from edge.sinks.mqtt import MqttSink
from edge.sinks.outbox_heal import damage
from tests.immutable import immutable
from tests.integration.test_mqtt import DEV, HEALTH, broker_states, dedup, event, key, mqtt_cfg, validate_all
from tests.mosquitto import Mosquitto, Subscriber, available
from tests.polling import wait_until

pytestmark = pytest.mark.skipif(not available(), reason="needs mosquitto (apt-get install -y mosquitto)")

EVENTS = [f"dms/{DEV}/events", f"dms/{DEV}/events/microsleep"]
PAGE = 4096


def previous_run(broker: Mosquitto, tmp_path: Path, n: int) -> Path:
    """The outbox a run left behind while the broker was down: n events, two rows each."""
    broker.stop()
    cfg = mqtt_cfg(broker, tmp_path, homeassistant=False)
    sink = MqttSink(cfg, DEV, close_timeout_s=0.1)
    for i in range(n):
        sink.publish("events", event(i))
    sink.close()
    broker.start()
    return cfg.outbox_path


def rows_delivered(sub: Subscriber) -> int:
    return len([t for t, _, _ in sub.messages if t in EVENTS])


@pytest.mark.parametrize("form", ["random_bytes", "truncated", "overwritten_pages", "folder"])
def test_a_damaged_outbox_is_healed_at_start(broker, tmp_path, form):
    n, path = 120, tmp_path / "outbox.sqlite"
    if form in ("truncated", "overwritten_pages"):
        previous_run(broker, tmp_path, n)
        size = path.stat().st_size
        if form == "truncated":
            os.truncate(path, size // 2)
        else:
            with path.open("r+b") as f:
                f.seek(size // PAGE // 2 * PAGE)
                f.write(random.Random(3).randbytes(2 * PAGE))
    elif form == "random_bytes":
        path.write_bytes(random.Random(4).randbytes(5 * PAGE))
    else:
        path.mkdir()
    damaged = path.read_bytes() if path.is_file() else None
    sub = Subscriber(broker, [*EVENTS, f"dms/{DEV}/health"])
    sink = MqttSink(mqtt_cfg(broker, tmp_path, homeassistant=False), DEV)
    assert wait_until(lambda: sink.connected)
    health = sink.health()
    aside = Path(health["outbox_quarantined"])
    assert health["state"] == "ok" and health["outbox_persistent"] is True  # durable, from the start
    assert str(aside) in health["detail"] and f"{health['outbox_salvaged']} row(s) salvaged" in health["detail"]
    assert aside.parent == tmp_path and aside.name.startswith("outbox.sqlite.damaged-")
    assert aside.read_bytes() == damaged if damaged is not None else aside.is_dir()  # kept as it was
    salvaged, written = health["outbox_salvaged"], [key(event(i)) for i in range(n)]
    if damaged is None or form == "random_bytes":
        assert salvaged == 0
    else:
        assert 0 < salvaged < 2 * n
        assert sub.wait_for(lambda m: rows_delivered(sub) >= salvaged)
        got = dedup(sub.on(EVENTS[0]))
        assert got == [k for k in written if k in set(got)]  # in the order they were written
        if form == "truncated":
            assert got == written[: len(got)]
        else:  # the rows after the damaged pages too
            assert got[0] == written[0] and got[-1] == written[-1] and len(got) > n * 0.8
    sink.publish("health", HEALTH)
    assert sub.wait_for(lambda m: broker_states(sub))
    assert broker_states(sub)[-1] == ("ok", health["detail"])  # an operator sees the kept file and the count
    sink.publish("events", event(n))  # stored durably, at the configured path, and sent
    assert sub.wait_for(lambda m: key(event(n)) in dedup(sub.on(EVENTS[0])))
    assert wait_until(lambda: sink.outbox.count() == 0)
    assert rows_delivered(sub) == salvaged + 2  # each salvaged row once, and the new event
    validate_all(sub)
    sink.close()
    sub.close()
    assert damage(path) is None and path.is_file()


def test_the_outbox_becomes_durable_without_a_restart(tmp_path):
    """The outbox's folder cannot be made at start (a file is in its place): events go out from memory; once the
    folder exists, the retry opens the file and moves the events still in memory into it; none is lost."""
    broker = Mosquitto(persistence=True)  # the subscriber's queue survives the restart
    broker.start()
    try:
        blocker = tmp_path / "state"
        blocker.write_text("")
        path = blocker / "outbox.sqlite"
        sub = Subscriber(broker, [*EVENTS, f"dms/{DEV}/health"], client_id="dms-test-retry", persistent=True)
        sink = MqttSink(mqtt_cfg(broker, tmp_path, homeassistant=False, outbox_path=path), DEV, outbox_retry_s=0.1)
        assert wait_until(lambda: sink.connected)
        sink.publish("health", HEALTH)
        health = sink.health()
        assert health["state"] == "degraded" and health["detail"].startswith("outbox not persistent: ")
        assert health["outbox_persistent"] is False
        for i in range(3):
            sink.publish("events", event(i))  # out from memory
        assert sub.wait_for(lambda m: len(dedup(sub.on(EVENTS[0]))) == 3)
        assert wait_until(lambda: sink.outbox.count() == 0)  # acknowledged: gone from memory
        broker.stop()
        assert wait_until(lambda: not sink.connected)
        for i in range(3, 6):
            sink.publish("events", event(i))  # held in memory only
        assert sink.health()["pending"] == 6 and sink.outbox.in_memory() == 6
        blocker.unlink()
        blocker.mkdir()  # the folder can be made now
        assert wait_until(lambda: sink.health()["outbox_persistent"] and sink.outbox.in_memory() == 0)
        db = sqlite3.connect(path)  # the events not acknowledged yet are in the file, in order
        stored = db.execute("SELECT payload FROM outbox WHERE topic = ? ORDER BY id", (EVENTS[0],)).fetchall()
        db.close()
        assert [key(json.loads(p)) for (p,) in stored] == [key(event(i)) for i in range(3, 6)]
        broker.start()
        assert wait_until(lambda: sink.connected)
        sink.publish("events", event(6))
        want = [key(event(i)) for i in range(7)]
        for topic in EVENTS:
            assert sub.wait_for(lambda m: len(dedup(sub.on(topic))) >= 7)
            assert dedup(sub.on(topic)) == want  # none lost, in order
        assert wait_until(lambda: sink.outbox.count() == 0)
        assert sub.wait_for(lambda m: broker_states(sub)[-1] == ("ok", None))  # health is ok again, and says so
        sink.close()
        sub.close()
    finally:
        broker.close()


def test_a_damaged_outbox_that_cannot_be_moved_aside(broker, tmp_path):
    path = tmp_path / "outbox.sqlite"
    path.write_bytes(random.Random(5).randbytes(2 * PAGE))
    sub = Subscriber(broker, [*EVENTS, f"dms/{DEV}/health"])
    with immutable(tmp_path):  # a read-only folder, even for root
        sink = MqttSink(mqtt_cfg(broker, tmp_path, homeassistant=False), DEV, outbox_retry_s=0.1)
        assert wait_until(lambda: sink.connected)
        sink.publish("health", HEALTH)
        sink.publish("events", event(0))  # live alerts still go out
        assert sub.wait_for(lambda m: dedup(sub.on(EVENTS[0])) == [key(event(0))] and broker_states(sub))
        state, detail = broker_states(sub)[-1]
        assert state == "degraded" and "is damaged (file is not a database) and cannot be moved aside" in detail
        assert sink.health()["outbox_persistent"] is False and path.exists()
    assert wait_until(lambda: sink.health()["outbox_persistent"])  # the folder is writable again: healed
    assert sink.health()["state"] == "ok" and Path(sink.health()["outbox_quarantined"]).exists()
    sink.close()
    sub.close()


def test_events_in_memory_are_stored_at_close_if_the_file_works_by_then(broker, tmp_path):
    """No retry came before the stop (every 30 s): close tries once more, so a restart still sends them."""
    blocker = tmp_path / "state"
    blocker.write_text("")
    cfg = mqtt_cfg(broker, tmp_path, homeassistant=False, outbox_path=blocker / "outbox.sqlite")
    broker.stop()
    sink = MqttSink(cfg, DEV, close_timeout_s=0.1)
    for i in range(2):
        sink.publish("events", event(i))
    assert sink.outbox.in_memory() == 4 and not sink.health()["outbox_persistent"]
    blocker.unlink()
    blocker.mkdir()
    sink.close()
    broker.start()
    sub = Subscriber(broker, EVENTS)
    sink = MqttSink(cfg, DEV)  # the next start sends them
    assert sub.wait_for(lambda m: len(dedup(sub.on(EVENTS[0]))) >= 2)
    assert dedup(sub.on(EVENTS[0])) == [key(event(i)) for i in range(2)]
    assert wait_until(lambda: sink.outbox.count() == 0)
    sink.close()
    sub.close()

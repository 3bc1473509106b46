"""After `dms run` is killed (SIGKILL: a crash, or the power cut) with an alert open, the next start ends that alert
(evidence end_reason "restart"), so subscribers and Home Assistant's alert entities do not stay on forever."""

from __future__ import annotations

import json
import signal
import sqlite3

import jsonschema
import pytest

from edge.sinks.homeassistant import discovery_payload
from tests import mosquitto
from tests.integration.test_daemon import SCHEMAS, FakeSystemd, start_dms, write_config

pytestmark = pytest.mark.skipif(not mosquitto.available(), reason="mosquitto is missing (apt-get install mosquitto)")


def left_open(outbox) -> set[str]:
    with sqlite3.connect(outbox) as db:
        return {row[0] for row in db.execute("SELECT id FROM open_alerts")}


def test_a_restart_ends_the_alerts_a_crash_left_open(broker, clip, tmp_path):
    jinja2 = pytest.importorskip("jinja2")
    sub = mosquitto.Subscriber(broker, ["dms/cab-7/#"])
    config, video, outbox = write_config(tmp_path, broker.port), str(clip("WolfgangLanger_Pexels.mp4")), \
        tmp_path / "outbox.sqlite"
    events_schema = json.loads((SCHEMAS / "events.json").read_text())

    def events() -> list[dict]:
        return [json.loads(p) for p in sub.on("dms/cab-7/events")]

    try:
        crashed: set[str] = set()
        for attempt in range(3):  # killed while an alert is open: at once after a start arrives
            notify = FakeSystemd(tmp_path / f"notify-{attempt}.sock")
            proc = start_dms(tmp_path, config, video, notify.path, tmp_path / "stall")
            seen = len(events())
            assert sub.wait_for(lambda m: any(e["type"] == "start" for e in events()[seen:]), timeout=60), \
                proc.stderr.read() if proc.poll() is not None else "no alert started"
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            notify.close()
            crashed = left_open(outbox)
            if crashed:
                break
        assert crashed, "every alert had ended before the kill, three times"

        notify = FakeSystemd(tmp_path / "notify-restart.sock")
        proc = start_dms(tmp_path, config, video, notify.path, tmp_path / "stall")
        try:
            def restart_ends(topic: str = "dms/cab-7/events") -> dict[str, dict]:
                ends = (json.loads(p) for p in sub.on(topic))
                return {e["id"]: e for e in ends if e["type"] == "end" and e["id"] in crashed}

            def on_kind_topics() -> set[str]:  # what Home Assistant reads
                return {i for e in restart_ends().values() for i in restart_ends(f"dms/cab-7/events/{e['kind']}")}

            assert sub.wait_for(lambda m: set(restart_ends()) == crashed == on_kind_topics(), timeout=30)
            template = {k: c for k, c in discovery_payload("cab-7", "dms/cab-7", "1")["cmps"].items()
                        if k.startswith("alert_")}
            for alert_id, end in restart_ends().items():
                jsonschema.validate(end, events_schema)
                assert end["evidence"]["end_reason"] == "restart" and end["ended_at"] == end["t"]
                last = [e for e in events() if e["id"] == alert_id and e["type"] != "end"][-1]
                assert end["t"] >= last["t"] and end["started_at"] == last["started_at"]
                value = jinja2.Environment().from_string(template[f"alert_{end['kind']}"]["value_template"])
                assert value.render(value_json=end) == "OFF"  # Home Assistant's alert entity goes off
            assert notify.wait_for("READY=1", timeout=30)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(20) == 0
            assert left_open(outbox) == set()  # a clean stop ends every alert: nothing for the next start
        finally:
            if proc.poll() is None:
                proc.kill()
            notify.close()
    finally:
        sub.close()


def test_a_camera_that_fails_to_close_still_lets_every_alert_end_and_the_outbox_drain(broker, clip, tmp_path):
    sub = mosquitto.Subscriber(broker, ["dms/cab-7/#"])
    notify = FakeSystemd(tmp_path / "notify.sock")
    proc = start_dms(tmp_path, write_config(tmp_path, broker.port), str(clip("WolfgangLanger_Pexels.mp4")),
                     notify.path, tmp_path / "stall", DMS_TEST_CAMERA_STOP_FAILS="1")
    try:
        assert notify.wait_for("READY=1", timeout=30)
        assert sub.wait_for(lambda m: any(json.loads(p)["type"] == "start" for p in sub.on("dms/cab-7/events")), 30)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 1  # a failed close is a failure, reported...
        assert "dms run: at close, could not stop the camera: VIDIOC_STREAMOFF" in proc.stderr.read()
        events = [json.loads(p) for p in sub.on("dms/cab-7/events")]  # ...and every step after it still ran
        assert {e["id"] for e in events if e["type"] == "start"} <= {e["id"] for e in events if e["type"] == "end"}
        assert sub.on("dms/cab-7/availability")[-1] == b"stopped" and left_open(tmp_path / "outbox.sqlite") == set()
    finally:
        if proc.poll() is None:
            proc.kill()
        notify.close()
        sub.close()

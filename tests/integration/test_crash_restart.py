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
            def restart_ends() -> dict[str, dict]:
                return {e["id"]: e for e in events() if e["type"] == "end" and e["id"] in crashed}

            assert sub.wait_for(lambda m: set(restart_ends()) == crashed, timeout=30)
            template = {k: c for k, c in discovery_payload("cab-7", "dms/cab-7", "1")["cmps"].items()
                        if k.startswith("alert_")}
            for alert_id, end in restart_ends().items():
                jsonschema.validate(end, events_schema)
                assert end["evidence"]["end_reason"] == "restart" and end["ended_at"] == end["t"]
                last = [e for e in events() if e["id"] == alert_id and e["type"] != "end"][-1]
                assert end["t"] >= last["t"] and end["started_at"] == last["started_at"]
                on_kind = [json.loads(p) for p in sub.on(f"dms/cab-7/events/{end['kind']}")]
                assert any(e["id"] == alert_id and e["type"] == "end" for e in on_kind)  # what Home Assistant reads
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

"""`dms dashboard` against a real mosquitto, over real HTTP on loopback (no browser): a replay shows up as a device
with its alerts, pushed within a second; the store keeps every event once, in order, across a restart; an alert
is acknowledged through the device's real command handler; malformed payloads are counted, never fatal."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time

import jsonschema
import pytest

from edge.config import MqttConfig
from edge.sinks.commands import Command
from edge.sinks.mqtt import MqttSink
from tests import postgres
from tests.dashboard import ROOT, Dashboard
from tests.integration.test_mqtt_tls import PASSWORD, _sink, tls_broker  # noqa: F401  (a fixture)
from tests.mosquitto import Subscriber, available, free_port
from tests.polling import wait_until

pytestmark = pytest.mark.skipif(not available(), reason="needs mosquitto (apt-get install -y mosquitto)")
SCHEMAS = {p.stem: json.loads(p.read_text()) for p in (ROOT / "docs" / "schemas").glob("*.json")}


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    """A --store URL of each kind: a SQLite file, a real PostgreSQL server of its own."""
    if request.param == "sqlite":
        yield str(tmp_path / "events.sqlite")
        return
    if postgres.available() is not None:
        pytest.skip(postgres.available())
    server = postgres.Postgres()
    server.start()
    yield server.url
    server.close()


def event(n: int, typ: str = "start", alert: str = "a-1", kind: str = "microsleep") -> dict:
    return {"v": 1, "type": typ, "id": alert, "kind": kind, "level": "warning", "started_at": 1.0,
            "ended_at": 2.0 + n if typ == "end" else None, "t": 1.0 + n, "acknowledged": False,
            "evidence": {"n": n}}


def _key(e: dict) -> tuple:
    return e["id"], e["type"], e["t"]


def test_a_replay_appears_with_its_alerts_in_the_api_and_the_stream(broker, dashboard, clip, tmp_path):
    stream = dashboard.sse()
    sub = Subscriber(broker, ["dms/car-1/events"])
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "edge.cli", "replay", str(clip("WolfgangLanger_Pexels.mp4")), "--mqtt",
             broker.url, "--device-id", "car-1", "--quiet"],
            cwd=ROOT, env={"PATH": "/usr/bin:/bin", "DMS_CACHE_DIR": str(tmp_path / "cache")},
            capture_output=True, text=True, timeout=300,
        )
        assert proc.returncode == 0, proc.stderr
        published: list[dict] = []
        for raw in sub.on("dms/car-1/events"):  # what the device sent, de-duplicated as docs/mqtt.md says
            e = json.loads(raw)
            if _key(e) not in {_key(p) for p in published}:
                published.append(e)
        kinds = {e["kind"] for e in published}
        assert {"microsleep", "sleep"} <= kinds, kinds

        assert wait_until(lambda: len(dashboard.stored("car-1")) == len(published))
        assert [_key(e) for e in dashboard.stored("car-1")] == [_key(e) for e in published]
        assert wait_until(lambda: any(d["id"] == "car-1" and d["availability"] == "stopped"
                                      for d in dashboard.get("/api/devices")["devices"]))
        tile = next(d for d in dashboard.get("/api/devices")["devices"] if d["id"] == "car-1")
        assert tile["driver"]["eyes"]["closed_prob"] is not None and tile["driver"]["emotion"]["dominant"]
        detail = dashboard.get("/api/devices/car-1")
        assert len(detail["history"]) >= 30  # the replay's ~40 states: chart points
        assert [_key(e["event"]) for e in detail["events"]] == [_key(e) for e in published]

        # The stream: every event once, in order, and the tiles showed the alerts while they were open.
        pushed = [c["event"] for c in stream.all() if c["type"] == "event" and c["device"] == "car-1"]
        assert [_key(e) for e in pushed] == [_key(e) for e in published]
        active = {a["kind"] for c in stream.all() if c.get("device") == "car-1" for a in c["summary"]["alerts"]}
        assert {"microsleep", "sleep"} <= active
        assert stream.all()[-1]["summary"]["alerts"] == []  # the replay ended them all
    finally:
        stream.close()
        sub.close()


def test_an_event_is_pushed_to_the_browser_within_a_second(broker, dashboard):
    stream = dashboard.sse()
    pub = Subscriber(broker, ["dms/lat-1/none"])
    latencies = []
    try:
        for n in range(20):
            e = event(n, "update" if n else "start", alert="lat-alert")
            sent = time.monotonic()
            pub.publish("dms/lat-1/events", json.dumps(e))
            got = stream.wait_for(lambda c, n=n: c["type"] == "event" and c["event"]["evidence"]["n"] == n, 5)
            assert got is not None, f"event {n} never pushed"
            latencies.append(stream.arrival(lambda c, n=n: c["type"] == "event" and
                                            c["event"]["evidence"]["n"] == n) - sent)
        print(f"\nMQTT publish -> SSE arrival: median {statistics.median(latencies) * 1000:.1f} ms, "
              f"max {max(latencies) * 1000:.1f} ms over {len(latencies)} events")
        assert max(latencies) < 1.0, latencies
    finally:
        stream.close()
        pub.close()


def test_the_store_has_every_event_once_in_order_across_a_restart(broker, store_url, tmp_path):
    pub = Subscriber(broker, ["dms/st-1/none"])
    dash = Dashboard(broker, tmp_path, store=store_url).start()
    try:
        first = [event(1), event(2, "update"), event(3, "update"), event(4, "end")]
        for e in first:
            for _ in range(2):  # at least once: every message twice
                pub.publish("dms/st-1/events", json.dumps(e))
        assert wait_until(lambda: len(dash.stored()) == 4 and dash.get("/api/devices")["counts"]["duplicates"] == 4)
        assert dash.stop() == 0

        # While it is down the broker queues QoS 1 events for its session; after the restart all of it comes
        # again (a device whose outbox re-sends), interleaved with new events.
        second = [event(5, alert="a-2"), event(6, "update", alert="a-2")]
        for e in second:
            pub.publish("dms/st-1/events", json.dumps(e))
        dash.start()
        assert wait_until(lambda: len(dash.stored()) == 6)
        for e in first + second + [event(7, "end", alert="a-2")]:
            pub.publish("dms/st-1/events", json.dumps(e))
        assert wait_until(lambda: len(dash.stored()) == 7)
        assert wait_until(lambda: dash.get("/api/devices")["counts"]["duplicates"] == 6)
        assert [_key(e) for e in dash.stored("st-1")] == [_key(e) for e in first + second + [event(7, "end", "a-2")]]
        assert dash.get("/api/devices/st-1")["alerts"] == []  # a-1 ended before the restart, a-2 after
    finally:
        dash.close()
        pub.close()


def test_acknowledging_publishes_cmd_ack_and_the_result_comes_back(broker, dashboard, tmp_path):
    acked: list[dict] = []

    def on_command(command: Command) -> None:  # the device's side: its real command path (validation, reply)
        acked.append(command.args)
        command.reply({"acknowledged": 1})

    cfg = MqttConfig(host=broker.host, port=broker.port, outbox_path=tmp_path / "o.sqlite", homeassistant=False)
    device = MqttSink(cfg, "car-9", on_command=on_command)
    sub = Subscriber(broker, ["dms/car-9/cmd/ack"])
    stream = dashboard.sse()
    try:
        device.publish("events", event(1, alert="car-9-sleep-1", kind="sleep"))
        assert stream.wait_for(lambda c: c["type"] == "event" and c["device"] == "car-9")
        status, body = dashboard.request("POST", "/api/devices/car-9/ack", {"id": "car-9-sleep-1"})
        assert status == 202, body
        assert sub.wait_for(lambda m: bool(m))
        payload = json.loads(sub.on("dms/car-9/cmd/ack")[0])
        jsonschema.validate(payload, SCHEMAS["cmd_ack"])
        assert payload["id"] == "car-9-sleep-1" and payload["request_id"] == body["request_id"]

        result = stream.wait_for(lambda c: c["type"] == "result" and c["result"].get("request_id") ==
                                 body["request_id"])
        assert result is not None, "the cmd/result never reached the stream"
        jsonschema.validate({k: v for k, v in result["result"].items() if k != "received"}, SCHEMAS["cmd_result"])
        assert result["result"]["ok"] is True and acked == [{"id": "car-9-sleep-1"}]
        assert dashboard.get("/api/devices/car-9")["results"][-1]["request_id"] == body["request_id"]

        refused = [
            ("/api/devices/car-9/ack", {"kind": "coffee"}, {}, 400),
            ("/api/devices/car-9/ack", {"id": "x", "kind": "sleep"}, {}, 400),
            ("/api/devices/car-9/ack", b"not json", {}, 400),
            ("/api/devices/car-9/ack", b"id=x", {"Content-Type": "application/x-www-form-urlencoded"}, 415),
            ("/api/devices/car-9/ack", {"id": "x"}, {"Origin": "http://evil.example"}, 403),
            ("/api/devices/nobody/ack", {"id": "x"}, {}, 404),
        ]
        for path, req, headers, expected in refused:
            status, reply = dashboard.request("POST", path, req, headers)
            assert status == expected and reply["error"], (req, status, reply)
        assert len(sub.on("dms/car-9/cmd/ack")) == 1  # nothing refused was published
    finally:
        stream.close()
        sub.close()
        device.close()


def test_malformed_payloads_are_counted_and_skipped(broker, dashboard):
    pub = Subscriber(broker, ["dms/bad-1/none"])
    bad = [
        ("state", b"{not json"),
        ("state", b"\xff\xfe"),
        ("state", b"[1, 2]"),
        ("health", b"42"),
        ("events", json.dumps({"type": "start"}).encode()),
        ("events", json.dumps({**event(1), "type": "begin"}).encode()),
        ("events", json.dumps({**event(1), "t": "soon"}).encode()),
        ("availability", b"maybe"),
        ("cmd/result", json.dumps({"command": "ack"}).encode()),
    ]
    try:
        for topic, raw in bad:
            pub.publish(f"dms/bad-1/{topic}", raw)
        pub.publish("dms/bad-1/events", json.dumps(event(1)))  # a good one after them all
        assert wait_until(lambda: len(dashboard.stored("bad-1")) == 1)
        devices = dashboard.get("/api/devices")
        assert devices["counts"]["malformed"] == len(bad)
        assert dashboard.proc is not None and dashboard.proc.poll() is None
        assert any("skipped" in line for line in dashboard.log)
    finally:
        pub.close()


def _dms(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "edge.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", **(env or {})}, timeout=60)


def test_refused_before_anything_starts_with_exit_code_2(broker, tmp_path):
    store = tmp_path / "never.sqlite"
    (tmp_path / "empty").write_text("\n")
    cases = [
        (["--listen", "0.0.0.0:8080"], "listening beyond loopback needs a password"),
        (["--listen", "[::]:8080"], "needs a password"),
        (["--listen", "dashboard.example:8080"], "needs a password"),
        (["--listen", "8080"], "expected HOST:PORT"),
        (["--password-file", str(tmp_path / "empty")], "is empty"),
        (["--store", f"postgresql://dms@127.0.0.1:{free_port()}/dms"], "cannot open the event store"),
        (["--mqtt", "http://broker"], "expected mqtt://"),
    ]
    for args, message in cases:
        argv = ["dashboard", "--mqtt", broker.url, *([] if "--store" in args else ["--store", str(store)]), *args]
        proc = _dms(*argv)
        assert proc.returncode == 2 and message in proc.stderr, (args, proc.returncode, proc.stderr)
        assert "Traceback" not in proc.stderr
    assert not store.exists()


def test_with_a_password_every_request_needs_it(broker, tmp_path):
    (tmp_path / "pw").write_text("s3cret\n")
    dash = Dashboard(broker, tmp_path, "--password-file", str(tmp_path / "pw"), password="s3cret").start()
    try:
        for path in ("/", "/api/devices", "/api/stream", "/static/app.js", "/api/events"):
            status, _ = dash.request("GET", path, password="")
            assert status == 401, path
            status, _ = dash.request("GET", path, password="wrong")
            assert status == 401, path
        status, _ = dash.request("POST", "/api/devices/x/ack", {"id": "a"}, password="")
        assert status == 401
        assert dash.request("GET", "/api/devices")[0] == 200
        assert dash.request("GET", "/static/app.js")[0] == 200
        stream = dash.sse()  # authorised with the password
        stream.close()
    finally:
        dash.close()


def test_over_tls_with_credentials_from_the_credentials_directory(tls_broker, tmp_path, monkeypatch):  # noqa: F811
    """The daemon's [mqtt] settings (CA file, user) and its credential file; the dashboard's own password beside."""
    broker, ca = tls_broker
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "mqtt-password").write_text(PASSWORD + "\n")
    (creds / "dashboard-password").write_text("page-pw\n")
    device = _sink(broker, ca, creds, monkeypatch)  # publishes as tls-car, TLS and the same credential
    (tmp_path / "dashboard.toml").write_text(f'[mqtt]\nclient_id = "dash-tls"\nca_file = "{ca}"\n')
    dash = Dashboard(broker, tmp_path, env={"CREDENTIALS_DIRECTORY": str(creds)}, password="page-pw",
                     mqtt_url=f"mqtts://dms@127.0.0.1:{broker.port}")
    try:
        dash.start()
        assert dash.request("GET", "/api/devices", password="")[0] == 401
        device.publish("events", event(1, alert="tls-alert"))
        assert wait_until(lambda: [e["id"] for e in dash.stored("tls-car")] == ["tls-alert"])
        assert not any(PASSWORD in line or "page-pw" in line for line in dash.log)
    finally:
        dash.close()
        device.close()


@pytest.mark.skipif(postgres.available() is not None, reason=str(postgres.available()))
def test_a_database_outage_loses_no_live_alert_and_the_store_comes_back(broker, tmp_path):
    """PostgreSQL stops while the dashboard runs: an event that arrives then is still shown and pushed (and counted
    as not kept), the API says the history is unavailable, and once the server is back events are stored again."""
    server = postgres.Postgres()
    server.start()
    pub = Subscriber(broker, ["dms/pg-1/none"])
    dash = Dashboard(broker, tmp_path, store=server.url).start()
    stream = dash.sse()
    try:
        pub.publish("dms/pg-1/events", json.dumps(event(1)))
        assert wait_until(lambda: [_key(e) for e in dash.stored("pg-1")] == [_key(event(1))])
        server.stop()
        pub.publish("dms/pg-1/events", json.dumps(event(2, "update")))
        assert stream.wait_for(lambda c: c.get("event", {}).get("t") == event(2)["t"])
        assert wait_until(lambda: dash.get("/api/devices")["counts"]["store_failed"] == 1)
        status, doc = dash.request("GET", "/api/events")
        assert status == 503 and "event store unavailable" in doc["error"]
        server.start()
        pub.publish("dms/pg-1/events", json.dumps(event(3, "end")))
        assert wait_until(lambda: status_ok(dash) and [_key(e) for e in dash.stored("pg-1")] ==
                          [_key(event(1)), _key(event(3, "end"))])
        assert dash.proc is not None and dash.proc.poll() is None
    finally:
        stream.close()
        dash.close()
        pub.close()
        server.close()


def status_ok(dash: Dashboard) -> bool:
    return dash.request("GET", "/api/events")[0] == 200

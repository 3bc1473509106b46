"""The dashboard's pure parts: message checks, the fleet fold (de-duplication, open alerts, bounded history), the
SQLite store (once, in order, across a reopen) and the listening/password policy."""

from __future__ import annotations

import base64
import json

import pytest

from edge.dashboard import messages
from edge.dashboard.auth import AuthError, authorized, check_listen, is_loopback, parse_listen, read_password
from edge.dashboard.fleet import Fleet
from edge.dashboard.store import SqliteStore, StoreError, open_store
from tests.mosquitto import free_port


def event(t: float, typ: str = "start", alert: str = "a-1", kind: str = "sleep", acknowledged: bool = False) -> dict:
    return {"v": 1, "type": typ, "id": alert, "kind": kind, "level": "critical", "started_at": 1.0,
            "ended_at": None, "t": t, "acknowledged": acknowledged, "evidence": {}}


def msg(topic: str, payload, device: str = "car-1", retained: bool = False):
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return messages.parse(f"dms/{device}/{topic}", raw, retained)


def test_parse_reads_the_dashboards_topics_and_ignores_the_rest():
    assert msg("events", event(1.0)).payload["id"] == "a-1"
    assert msg("availability", b"online").payload == "online"
    assert msg("events/sleep", event(1.0)) is None  # the same message again, per kind
    assert msg("cmd/ack", {"id": "x"}) is None  # the dashboard's own commands
    assert messages.parse("homeassistant/device/x/config", b"{}") is None
    assert msg("state", b"", retained=True) is None  # a retained message being cleared


@pytest.mark.parametrize("topic,raw,reason", [
    ("state", b"{nope", "not JSON"),
    ("state", b"\xff", "UTF-8"),
    ("health", b"[]", "JSON object"),
    ("events", json.dumps({**event(1.0), "type": "begin"}).encode(), "type"),
    ("events", json.dumps({**event(1.0), "t": None}).encode(), "numeric"),
    ("events", json.dumps({**event(1.0), "kind": "coffee"}).encode(), "kind"),
    ("availability", b"perhaps", "availability"),
    ("cmd/result", b"{}", "ok"),
    ("stats", b"{" * 300_000, "too large"),
])
def test_malformed_payloads_say_why(topic, raw, reason):
    bad = messages.parse(f"dms/car-1/{topic}", raw)
    assert isinstance(bad, messages.Malformed) and reason in bad.reason


def test_the_fleet_folds_events_once_and_keeps_the_open_alerts():
    fleet = Fleet()
    changes = [fleet.apply(msg("events", e), 100.0) for e in
               (event(1.0), event(1.0), event(2.0, "update", acknowledged=True), event(1.5, alert="a-2"))]
    assert changes[1] is None and fleet.counts["duplicates"] == 1
    alerts = fleet.detail("car-1")["alerts"]
    assert [(a["id"], a["acknowledged"]) for a in alerts] == [("a-1", True), ("a-2", False)]
    assert fleet.apply(msg("events", event(3.0, "end")), 101.0)["summary"]["alerts"][0]["id"] == "a-2"

    restarted = Fleet()  # from the store: known keys are not pushed again, open alerts are open again
    for e in (event(1.0), event(1.5, alert="a-2")):
        restarted.restore("car-1", e)
    assert restarted.apply(msg("events", event(1.0)), 102.0) is None
    assert [a["id"] for a in restarted.detail("car-1")["alerts"]] == ["a-1", "a-2"]


def test_the_tile_reads_state_health_and_stats_defensively():
    fleet = Fleet(history_s=10.0)
    state = {"v": 1, "t": 3.0, "drowsiness": {"level": "drowsy", "kss": 7.5}, "eyes": {"visible": True,
             "closed_prob": "high"}, "stress": {"level": "low", "score": 0.1}, "distraction": {"on_road": True}}
    for i in range(30):
        change = fleet.apply(msg("state", state), 100.0 + i)
    assert change["point"]["kss"] == 7.5 and change["point"]["closed_prob"] is None  # a string is not a number
    assert len(fleet.detail("car-1")["history"]) == 11  # the last 10 s
    fleet.apply(msg("health", {"components": {"camera": {"state": "unavailable", "detail": "gone"},
                                              "broker": {"state": "ok", "metrics": {"outbox_persistent": False}}}}), 0)
    fleet.apply(msg("stats", {"temperature_c": 61.5}), 0)
    tile = fleet.snapshot()[0]
    assert tile["driver"]["level"] == "drowsy" and tile["driver"]["attention"]["on_road"] is True
    assert tile["health"]["components"]["camera"] == {"state": "unavailable", "detail": "gone"}
    assert tile["health"]["components"]["outbox"]["state"] == "degraded"
    assert tile["health"]["components"]["serial"]["state"] == "unknown"
    assert tile["temperature_c"] == 61.5


def test_the_store_records_each_event_once_in_order_and_survives_a_reopen(tmp_path):
    path = tmp_path / "store.sqlite"
    store = SqliteStore(path)
    assert store.add("car-1", event(1.0), 10.0) == 1
    assert store.add("car-1", event(1.0), 11.0) is None
    assert store.add("car-2", event(1.0), 12.0) == 2  # another device's alert with the same id and time
    store.close()
    store = open_store(f"sqlite://{path}")
    assert store.add("car-1", event(1.0), 13.0) is None
    assert store.add("car-1", event(2.0, "end"), 14.0) == 3
    assert [(e.seq, e.device, e.event["type"]) for e in store.events()] == [
        (1, "car-1", "start"), (2, "car-2", "start"), (3, "car-1", "end")]
    assert [e.seq for e in store.events("car-1", limit=1)] == [3]
    assert [e.seq for e in store.events(before=3, limit=1)] == [2]
    store.close()


def test_store_urls(tmp_path):
    port = free_port()  # nothing listens there: refused at once, the URL's password never shown
    with pytest.raises(StoreError, match=f"cannot open the event store postgresql://dms:\\*\\*\\*@127.0.0.1:{port}/dms"):
        open_store(f"postgresql://dms:s3cret@127.0.0.1:{port}/dms")
    with pytest.raises(StoreError, match="expected"):
        open_store("redis://x")
    (tmp_path / "file").write_text("")
    with pytest.raises(StoreError, match="cannot open"):
        open_store(str(tmp_path / "file" / "store.sqlite"))
    open_store(f"sqlite:{tmp_path / 'b.sqlite'}").close()


def test_listening_beyond_loopback_needs_a_password():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("::") and not is_loopback("dashboard.local")
    assert parse_listen("[::1]:8080").host == "::1" and parse_listen("0.0.0.0:0").port == 0
    for bad in ("8080", "host:", ":80", "h:99999"):
        with pytest.raises(AuthError):
            parse_listen(bad)
    check_listen(parse_listen("127.0.0.1:8080"), None)
    check_listen(parse_listen("0.0.0.0:8080"), "pw")
    with pytest.raises(AuthError, match="needs a password"):
        check_listen(parse_listen("0.0.0.0:8080"), None)


def test_the_password_comes_from_a_file_or_the_credentials_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    assert read_password(None) is None
    (tmp_path / "dashboard-password").write_text("s3cret\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    assert read_password(None) == "s3cret"
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(AuthError, match="empty"):
        read_password(tmp_path / "empty")
    with pytest.raises(AuthError, match="cannot read"):
        read_password(tmp_path / "missing")


def test_basic_authorization():
    def basic(text: str) -> str:
        return "Basic " + base64.b64encode(text.encode()).decode()

    assert authorized(basic("anyone:s3cret"), "s3cret")
    assert authorized(basic(":pa:ss"), "pa:ss")
    assert not authorized(basic("anyone:wrong"), "s3cret")
    assert not authorized(basic("s3cret"), "s3cret")
    assert not authorized("Basic !!!", "s3cret") and not authorized(None, "s3cret")
    assert not authorized("Bearer s3cret", "s3cret")


def test_the_outbox_pill_follows_the_device_now_not_a_past_failure():
    fleet = Fleet(history_s=10.0)

    def outbox(broker: dict) -> dict:
        fleet.apply(msg("health", {"components": {"broker": broker}}), 0)
        return fleet.snapshot()[0]["health"]["components"]["outbox"]

    spilled = {"state": "degraded", "detail": "outbox write failed (disk full)",
               "metrics": {"outbox_persistent": True, "persist_failed": 4, "pending": 2}}
    assert outbox(spilled)["state"] == "degraded" and "disk full" in outbox(spilled)["detail"]
    healed = {"state": "ok", "metrics": {"outbox_persistent": True, "persist_failed": 4, "pending": 0}}
    assert outbox(healed) == {"state": "ok", "detail": None, "pending": 0, "dropped_alerts": None}  # durable again
    repaired = {"state": "ok", "metrics": {"outbox_persistent": True, "outbox_salvaged": 147}}
    assert outbox(repaired)["state"] == "ok" and outbox(repaired)["detail"] == "repaired, 147 row(s) salvaged"

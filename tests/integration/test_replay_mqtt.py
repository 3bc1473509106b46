"""`dms replay --mqtt` against a real mosquitto that is stopped and restarted 5 times during the replay, each time
while an alert event is being published: every alert event arrives exactly once after de-duplication, in order,
and matches what the JSON-lines sink wrote."""

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import jsonschema
import pytest

from tests import mosquitto

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "docs" / "schemas"
RESTARTS = 5
CONNECTED = "MQTT: connected to"  # logged (INFO) by the sink on every connect

pytestmark = pytest.mark.skipif(not mosquitto.available(), reason="mosquitto is missing (apt-get install mosquitto)")


def _key(payload: dict) -> tuple:
    return payload["id"], payload["type"], payload["t"]


def _wait(cond, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.01)
    return cond()


def test_replay_survives_five_broker_restarts(clip, tmp_path):
    broker = mosquitto.Mosquitto(persistence=True)
    broker.start()
    sub = mosquitto.Subscriber(broker, ["dms/car-1/#"], client_id="test-dashboard", persistent=True)
    proc = None
    try:
        jsonl = tmp_path / "replay.jsonl"
        config = tmp_path / "dms.toml"  # reconnect fast: five outages fit in the clip's alerts
        config.write_text("[mqtt]\nreconnect_min_s = 0.05\nreconnect_max_s = 0.2\n")
        # The replay's outbox lives in the cache: a cache of its own gives the test a fresh one.
        env = {"DMS_CACHE_DIR": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin"}
        proc = subprocess.Popen(
            [sys.executable, "-m", "edge.cli", "--log-level", "INFO", "replay", str(clip("WolfgangLanger_Pexels.mp4")),
             "--config", str(config), "--mqtt", broker.url, "--device-id", "car-1", "--jsonl", str(jsonl), "--quiet",
             "--pace", "2"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        log: list[str] = []

        def read_log() -> None:
            assert proc is not None and proc.stderr is not None
            for line in proc.stderr:
                log.append(line)

        def connects() -> int:
            return sum(CONNECTED in line for line in list(log))

        def events_written() -> int:
            """Events in the JSON lines so far (complete lines; the sink flushes each line). The replay publishes
            to the MQTT sink first, so an event here has already been handed to the MQTT sink."""
            try:
                lines = jsonl.read_text(encoding="utf-8").split("\n")[:-1]
            except FileNotFoundError:
                return 0
            return sum(line.startswith('{"topic":"events"') for line in lines)

        # Each outage starts once the sink is connected (again) and lasts until the replay has published an event
        # (bounded: 3 s, less than the 5 s a closing sink waits for its outbox to drain).
        caught: list[int] = []  # per outage: events published while the broker was down

        def restarts() -> None:
            for n in range(RESTARTS):
                if not _wait(lambda: connects() > n or proc.poll() is not None, 20) or proc.poll() is not None:
                    return
                broker.stop()
                before = events_written()  # counted after the broker is gone: every later event met an outage
                _wait(lambda: events_written() > before or proc.poll() is not None, 3.0)
                caught.append(events_written() - before)
                broker.start()

        reader = threading.Thread(target=read_log, daemon=True)
        reader.start()
        restarter = threading.Thread(target=restarts)
        restarter.start()
        proc.wait(timeout=60)
        restarter.join(30)
        reader.join(10)
        err = "".join(log)
        assert proc.returncode == 0, err
        assert len(caught) == RESTARTS, (caught, err)
        # The restarts mattered: events were published while the broker was down (the outbox held them).
        assert sum(1 for n in caught if n) >= 3 and sum(caught) >= 3, caught
        assert connects() == 1 + RESTARTS, err  # the sink reconnected after every outage

        expected = [json.loads(line)["payload"] for line in jsonl.read_text().splitlines()
                    if json.loads(line)["topic"] == "events"]
        assert len(expected) >= 5  # the clip's closures: microsleep, sleep, their updates and ends

        def received(topic: str) -> list[dict]:
            seen, out = set(), []
            for raw in sub.on(topic):
                payload = json.loads(raw)
                if _key(payload) not in seen:  # at-least-once delivery: subscribers de-duplicate
                    seen.add(_key(payload))
                    out.append(payload)
            return out

        assert sub.wait_for(lambda _: len(received("dms/car-1/events")) >= len(expected), timeout=20)
        got = received("dms/car-1/events")
        assert [_key(p) for p in got] == [_key(p) for p in expected]  # every event once, in order
        for kind in {p["kind"] for p in expected}:
            assert [_key(p) for p in received(f"dms/car-1/events/{kind}")] == [
                _key(p) for p in expected if p["kind"] == kind
            ]
        events_schema = json.loads((SCHEMAS / "events.json").read_text())
        state_schema = json.loads((SCHEMAS / "state.json").read_text())
        for payload in got:
            jsonschema.validate(payload, events_schema)
            assert payload["wall_started_at"].endswith("Z")
            assert {k: v for k, v in payload.items() if not k.startswith("wall_")} in expected  # the same message
        states = [json.loads(raw) for raw in sub.on("dms/car-1/state")]
        assert states
        for payload in states:
            jsonschema.validate(payload, state_schema)
        assert sub.wait_for(lambda _: sub.on("dms/car-1/availability")[-1:] == [b"stopped"], timeout=5)
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(10)
        sub.close()
        broker.close()

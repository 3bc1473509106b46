"""`dms replay --mqtt` against a real mosquitto that is stopped and restarted 5 times during the replay: every
alert event arrives exactly once after de-duplication, in order, and matches what the JSON-lines sink wrote."""

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

pytestmark = pytest.mark.skipif(not mosquitto.available(), reason="mosquitto is missing (apt-get install mosquitto)")


def _key(payload: dict) -> tuple:
    return payload["id"], payload["type"], payload["t"]


def test_replay_survives_five_broker_restarts(clip, tmp_path):
    broker = mosquitto.Mosquitto(persistence=True)
    broker.start()
    sub = mosquitto.Subscriber(broker, ["dms/car-1/#"], client_id="test-dashboard", persistent=True)
    try:
        jsonl = tmp_path / "replay.jsonl"
        # The replay's outbox lives in the cache: a cache of its own gives the test a fresh one.
        env = {"DMS_CACHE_DIR": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin"}
        proc = subprocess.Popen(
            [sys.executable, "-m", "edge.cli", "replay", str(clip("WolfgangLanger_Pexels.mp4")), "--mqtt", broker.url,
             "--device-id", "car-1", "--jsonl", str(jsonl), "--quiet", "--speed", "2"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )

        def restarts() -> None:
            for _ in range(5):
                time.sleep(1.0)
                broker.stop()
                time.sleep(0.3)  # events of this moment go to the outbox
                broker.start()

        restarter = threading.Thread(target=restarts)
        restarter.start()
        out, err = proc.communicate(timeout=60)
        restarter.join()
        assert proc.returncode == 0, err

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
        states = [json.loads(raw) for raw in sub.on("dms/car-1/state")]
        assert states
        for payload in states:
            jsonschema.validate(payload, state_schema)
        assert sub.on("dms/car-1/availability")[-1] == b"stopped"
    finally:
        sub.close()
        broker.close()

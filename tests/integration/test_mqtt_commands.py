"""Commands over a real mosquitto: invalid payloads get a reason on cmd/result, valid ones reach the handler."""

from __future__ import annotations

import json
import os
import time

import jsonschema
import pytest

from edge.config import MqttConfig
from edge.sinks.commands import Command
from edge.sinks.mqtt import MqttSink
from tests.integration.test_mqtt import SCHEMAS, event, wait_until
from tests.mosquitto import Mosquitto, Subscriber, available

pytestmark = pytest.mark.skipif(not available(), reason="needs mosquitto (apt-get install -y mosquitto)")
DEV = "dev2"

MALFORMED = [
    ("ack", os.urandom(48) + b"\xff", "UTF-8"),
    ("ack", b"{not json", "not JSON"),
    ("calibrate", b"[1, 2]", "JSON object"),
    ("ack", json.dumps({"id": 7}).encode(), "'id'"),
    ("ack", json.dumps({"kind": "coffee"}).encode(), "'kind'"),
    ("ack", json.dumps({"id": "a", "kind": "sleep"}).encode(), "exactly one"),
    ("ack", json.dumps({}).encode(), "exactly one"),
    ("calibrate", json.dumps({"what": "ears"}).encode(), "'what'"),
    ("reload", json.dumps({"force": True}).encode(), "unknown field"),
    ("reload", json.dumps({"v": 2}).encode(), "version"),
    ("reload", json.dumps({"v": True}).encode(), "version"),  # true == 1 in Python, not in the schema
    ("reload", json.dumps({"v": 1.0}).encode(), "version"),
    ("reload", json.dumps({"v": "1"}).encode(), "version"),
    ("ack", json.dumps({"id": "x" * 5000}).encode(), "too large"),
    ("ack", b"[" * 3000 + b"]" * 3000, "too large"),
    ("calibrate", b"", "not JSON"),
]


def test_commands(tmp_path):
    broker = Mosquitto()
    broker.start()
    calls: list[tuple[str, dict]] = []

    def on_command(command: Command) -> None:
        calls.append((command.name, command.args))
        if command.name == "reload":
            raise RuntimeError("boom")  # a handler bug is answered, never raised into paho
        command.reply({"acknowledged": 1} if command.name == "ack" else {})

    cfg = MqttConfig(host=broker.host, port=broker.port, outbox_path=tmp_path / "o.sqlite", homeassistant=False,
                     command_burst=100)  # the probes and the two batches below, at once: not what the rate is about
    sink = MqttSink(cfg, DEV, on_command=on_command)
    sub = Subscriber(broker, [f"dms/{DEV}/cmd/result", f"dms/{DEV}/events"])
    result_topic = f"dms/{DEV}/cmd/result"
    try:
        assert wait_until(lambda: sink.connected)
        # CONNACK comes before the sink's own SUBACK: probe until it answers, so no command is sent into the void.
        deadline = time.monotonic() + 10
        while not sub.on(result_topic) and time.monotonic() < deadline:
            sub.publish(f"dms/{DEV}/cmd/calibrate", b"probe")
            sub.wait_for(lambda m: any(t == result_topic for t, _, _ in m), timeout=0.3)
        assert sub.on(result_topic), "the sink never answered a command"
        time.sleep(0.5)  # the answers to probes still in flight
        skip = len(sub.on(result_topic))

        def results_after_probes() -> int:
            return len(sub.on(result_topic)) - skip

        for name, raw, _ in MALFORMED:
            sub.publish(f"dms/{DEV}/cmd/{name}", raw)
        assert sub.wait_for(lambda m: results_after_probes() == len(MALFORMED))
        results = [json.loads(p) for p in sub.on(result_topic)][skip:]
        for (name, _, reason), result in zip(MALFORMED, results):
            jsonschema.validate(result, SCHEMAS["cmd_result"])
            assert result["ok"] is False and result["command"] == name and reason in result["reason"], result
        assert calls == []

        valid = [("ack", {"id": "alert-1", "request_id": "r1"}), ("ack", {"kind": "sleep"}),
                 ("calibrate", {}), ("calibrate", {"what": "eyes", "v": 1}), ("reload", {"request_id": "r5"})]
        for name, args in valid:
            jsonschema.validate(args, SCHEMAS[f"cmd_{name}"])
            sub.publish(f"dms/{DEV}/cmd/{name}", json.dumps(args))
        assert sub.wait_for(lambda m: results_after_probes() == len(MALFORMED) + len(valid))
        results = [json.loads(p) for p in sub.on(result_topic)][skip + len(MALFORMED):]
        for result in results:
            jsonschema.validate(result, SCHEMAS["cmd_result"])
        assert [r["ok"] for r in results] == [True, True, True, True, False]
        assert results[0] == {"v": 1, "ok": True, "command": "ack", "request_id": "r1", "acknowledged": 1}
        assert results[4]["request_id"] == "r5" and "internal error" in results[4]["reason"]
        assert calls == [("ack", {"id": "alert-1"}), ("ack", {"kind": "sleep"}), ("calibrate", {}),
                         ("calibrate", {"what": "eyes"}), ("reload", {})]

        sink.publish("events", event(0))  # still working
        assert sub.wait_for(lambda m: any(t.endswith("/events") for t, _, _ in m))
    finally:
        sink.close()
        sub.close()
        broker.close()


def test_retained_commands_are_answered_not_run(tmp_path):
    """A command left retained on the broker is delivered on every subscribe, i.e. on every start of the daemon:
    it is refused with a reason, never run. The same command sent live runs."""
    broker = Mosquitto()
    broker.start()
    calls: list[tuple[str, dict]] = []
    sub = Subscriber(broker, [f"dms/{DEV}/cmd/result"])
    sink = None
    try:
        sub.publish(f"dms/{DEV}/cmd/ack", json.dumps({"id": "alert-1", "request_id": "r0"}), retain=True)
        sub.publish(f"dms/{DEV}/cmd/calibrate", b"{bad", retain=True)
        cfg = MqttConfig(host=broker.host, port=broker.port, outbox_path=tmp_path / "o.sqlite", homeassistant=False)
        sink = MqttSink(cfg, DEV, on_command=lambda command: command.reply(calls.append((command.name, command.args))
                                                                             or {}))
        assert sub.wait_for(lambda m: len(m) == 2)
        results = sorted((json.loads(p) for p in sub.on(f"dms/{DEV}/cmd/result")), key=lambda r: r["command"])
        for result in results:
            jsonschema.validate(result, SCHEMAS["cmd_result"])
            assert result["ok"] is False and "retained commands are ignored" in result["reason"], result
        assert [r["command"] for r in results] == ["ack", "calibrate"] and results[0]["request_id"] == "r0"
        assert calls == []
        sub.publish(f"dms/{DEV}/cmd/ack", json.dumps({"id": "alert-1"}))  # live: runs
        assert sub.wait_for(lambda m: len(m) == 3)
        assert json.loads(sub.on(f"dms/{DEV}/cmd/result")[-1])["ok"] is True
        assert calls == [("ack", {"id": "alert-1"})]
    finally:
        if sink is not None:
            sink.close()
        sub.close()
        broker.close()

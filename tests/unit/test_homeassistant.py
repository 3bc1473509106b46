"""Home Assistant discovery: every value a state-topic entity reads exists in the state payload's schema."""

import json
import re
from pathlib import Path

import pytest

from edge.sinks.homeassistant import discovery_payload

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "docs" / "schemas" / "state.json").read_text())


def test_state_entities_read_fields_the_state_payload_has():
    cmps = discovery_payload("cab-7", "dms/cab-7", "1.2.3")["cmps"]
    on_state = {k: c for k, c in cmps.items() if c["state_topic"] == "dms/cab-7/state"}
    assert {"heart_rate", "stress_level", "stress", "drowsiness_level", "perclos"} <= set(on_state)
    for key, c in on_state.items():
        paths = re.findall(r"value_json\.(\w+)\.(\w+)", c["value_template"])
        assert paths, key
        for section, field in paths:
            assert field in SCHEMA["properties"][section]["properties"], f"{key}: {section}.{field} not in state"
    assert cmps["stress_level"]["options"] == ["unknown", "low", "medium", "high"]
    assert cmps["facial_emotion"]["options"] == SCHEMA["properties"]["emotion"]["properties"]["dominant"]["enum"]


def _render(template: str, state: dict) -> str:
    """A value template as Home Assistant renders it for an MQTT entity: Jinja2, the payload as value_json."""
    jinja2 = pytest.importorskip("jinja2")
    return jinja2.Environment().from_string(template).render(value_json=state, value=json.dumps(state))


def _state(**sections: dict) -> dict:
    base = {"drowsiness": {"kss": None, "level": "unknown"}, "eyes": {"perclos": None, "closed_prob": None},
            "face": {"present": False}, "emotion": {"dominant": "unknown", "confidence": None},
            "physio": {"hr_bpm": None}, "speed": {"speed_kmh": None, "reason": "off"},
            "stress": {"score": None, "level": None}}
    return {**base, **sections}


def test_numeric_sensors_become_unknown_when_their_value_is_null():
    """Home Assistant sets a numeric sensor to unknown on "None" and ignores "" (the last number would stay)."""
    cmps = discovery_payload("cab-7", "dms/cab-7", "1.2.3")["cmps"]
    numeric = {k: c for k, c in cmps.items() if c.get("state_class") == "measurement"}
    assert set(numeric) == {"kss", "perclos", "heart_rate", "vehicle_speed", "stress"}
    for key, c in numeric.items():
        assert _render(c["value_template"], _state()) == "None", key
    known = _state(drowsiness={"kss": 7}, eyes={"perclos": 0.125}, physio={"hr_bpm": 71.6},
                   speed={"speed_kmh": 88.0, "reason": None}, stress={"score": 0.42, "level": "low"})
    assert {k: _render(c["value_template"], known) for k, c in numeric.items()} == {
        "kss": "7", "perclos": "12.5", "heart_rate": "72.0", "vehicle_speed": "88.0", "stress": "42.0"}
    stale = _state(speed={"speed_kmh": 88.0, "reason": "stale"})  # a reading too old to trust is unknown too
    assert _render(numeric["vehicle_speed"]["value_template"], stale) == "None"


def test_the_device_reports_the_installed_package_version(tmp_path):
    from importlib import metadata

    from edge.config import MqttConfig
    from edge.sinks.mqtt import MqttSink

    sink = MqttSink(MqttConfig(enabled=False, outbox_path=tmp_path / "outbox.sqlite"), "cab-7")
    try:
        assert sink.sw_version == metadata.version("edge-dms") != "0"
    finally:
        sink.close()

"""Home Assistant discovery: every value a state-topic entity reads exists in the state payload's schema."""

import json
import re
from pathlib import Path

from edge.sinks.homeassistant import discovery_payload

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "docs" / "schemas" / "state.json").read_text())


def test_state_entities_read_fields_the_state_payload_has():
    cmps = discovery_payload("cab-7", "dms/cab-7")["cmps"]
    on_state = {k: c for k, c in cmps.items() if c["state_topic"] == "dms/cab-7/state"}
    assert {"heart_rate", "stress_level", "stress", "drowsiness_level", "perclos"} <= set(on_state)
    for key, c in on_state.items():
        paths = re.findall(r"value_json\.(\w+)\.(\w+)", c["value_template"])
        assert paths, key
        for section, field in paths:
            assert field in SCHEMA["properties"][section]["properties"], f"{key}: {section}.{field} not in state"
    assert cmps["stress_level"]["options"] == ["unknown", "low", "medium", "high"]
    assert cmps["facial_emotion"]["options"] == SCHEMA["properties"]["emotion"]["properties"]["dominant"]["enum"]

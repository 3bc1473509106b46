"""The end the next start gives an alert a crash left open: valid against the contract, ended at its last message."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from edge.sinks.left_open import restart_end

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "docs" / "schemas" / "events.json").read_text())
LAST = {"v": 1, "type": "update", "id": "cab-7-1a2b3c4d-3", "kind": "sleep", "level": "critical", "started_at": 812.4,
        "ended_at": None, "t": 815.9, "acknowledged": False, "evidence": {"closed_s": 3.5},
        "wall_t": "2026-12-04T10:00:03.500Z", "wall_started_at": "2026-12-04T10:00:00.000Z", "wall_ended_at": None}


def test_a_restart_end_closes_the_alert_at_its_last_known_moment():
    end = restart_end(LAST["id"], json.dumps(LAST).encode(), "2026-12-04T10:05:00.000Z")
    jsonschema.validate(end, SCHEMA)
    assert end["type"] == "end" and end["id"] == LAST["id"] and end["kind"] == "sleep" and end["level"] == "critical"
    assert end["ended_at"] == end["t"] == 815.9 and end["wall_ended_at"] == "2026-12-04T10:00:03.500Z"
    assert end["evidence"] == {"closed_s": 3.5, "end_reason": "restart", "restarted_at": "2026-12-04T10:05:00.000Z"}


def test_a_stored_message_that_is_not_ours_gives_no_end():
    others = ({**LAST, "id": "other"}, {"id": LAST["id"]})
    for raw in (b"\xff\xfe", b"[1]", *(json.dumps(other).encode() for other in others)):
        assert restart_end(LAST["id"], raw, "2026-12-04T10:05:00.000Z") is None

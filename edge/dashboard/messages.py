"""What arrives on `dms/+/#`, checked: each message becomes a typed `Message`, or a `Malformed` with the reason.
Pure. Topics the dashboard does not read (commands, `events/<kind>`, `vehicle/speed`) are `None`: ignored, not bad.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from edge.names import ALERT_KINDS, ALERT_LEVELS, AVAILABILITY, CMD_RESULT, EVENTS, HEALTH, STATE, STATS

PREFIX = "dms"
SUBSCRIPTION = f"{PREFIX}/+/#"
READ = (STATE, EVENTS, HEALTH, STATS, AVAILABILITY, CMD_RESULT)
AVAILABILITY_VALUES = ("online", "offline", "stopped")
EVENT_TYPES = ("start", "update", "end")
MAX_PAYLOAD = 256 * 1024  # a state is ~3 kB; far larger is not a dms message


@dataclass(frozen=True, slots=True)
class Message:
    device: str
    topic: str  # relative to dms/<device>/: one of READ
    payload: Any  # a dict, or the availability string
    retained: bool


@dataclass(frozen=True, slots=True)
class Malformed:
    device: str
    topic: str
    reason: str


def _number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def event_problem(e: dict[str, Any]) -> str | None:
    """Why an event payload cannot be folded or stored (the fields de-duplication and the page rely on), or None."""
    if not isinstance(e.get("id"), str) or not 1 <= len(e["id"]) <= 128:
        return "event without a string 'id'"
    if e.get("type") not in EVENT_TYPES:
        return f"event 'type' must be one of {', '.join(EVENT_TYPES)}"
    if e.get("kind") not in ALERT_KINDS:
        return "event with an unknown 'kind'"
    if e.get("level") not in ALERT_LEVELS:
        return "event with an unknown 'level'"
    if not _number(e.get("t")) or not _number(e.get("started_at")):
        return "event without numeric 't' and 'started_at'"
    return None


def parse(topic: str, raw: bytes, retained: bool = False) -> Message | Malformed | None:
    parts = topic.split("/", 2)
    if len(parts) != 3 or parts[0] != PREFIX or not parts[1] or parts[2] not in READ:
        return None
    device, rel = parts[1], parts[2]
    if not raw and retained:
        return None  # a retained message being cleared
    if len(raw) > MAX_PAYLOAD:
        return Malformed(device, rel, f"payload too large ({len(raw)} bytes)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return Malformed(device, rel, "payload is not UTF-8 text")
    if rel == AVAILABILITY:
        value = text.strip()
        if value not in AVAILABILITY_VALUES:
            return Malformed(device, rel, f"availability must be one of {', '.join(AVAILABILITY_VALUES)}")
        return Message(device, rel, value, retained)
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as err:
        return Malformed(device, rel, f"payload is not JSON: {str(err)[:80]}")
    if not isinstance(doc, dict):
        return Malformed(device, rel, "payload must be a JSON object")
    problem = event_problem(doc) if rel == EVENTS else None
    if rel == CMD_RESULT and not isinstance(doc.get("ok"), bool):
        problem = "cmd/result without a boolean 'ok'"
    if problem:
        return Malformed(device, rel, problem)
    return Message(device, rel, doc, retained)

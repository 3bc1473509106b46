"""The names shared across the package and with subscribers (docs/mqtt.md): one place for each.

Alert kinds and levels, drowsiness and stress levels, MQTT topics (relative to `dms/<device_id>/`), commands and
the payload schema version. Code that needs one of these imports it from here, never writes it out again.
"""

from __future__ import annotations

from typing import Literal, get_args

SCHEMA_VERSION = 1  # of every payload: state, events, health, stats, cmd/result

AlertLevel = Literal["advisory", "warning", "critical"]
ALERT_LEVELS: tuple[AlertLevel, ...] = get_args(AlertLevel)
# In the order the alert state machine evaluates them (and emits their events within one step).
ALERT_KINDS: tuple[str, ...] = (
    "microsleep",
    "sleep",
    "unresponsive",
    "drowsiness",
    "long_distraction",
    "visual_time_sharing",
    "stress",
    "driver_not_visible",
    "monitoring_degraded",
)

DrowsinessLevel = Literal["unknown", "alert", "slightly_drowsy", "drowsy", "very_drowsy"]
DROWSINESS_LEVELS: tuple[DrowsinessLevel, ...] = get_args(DrowsinessLevel)
STRESS_LEVELS: tuple[str, ...] = ("low", "medium", "high")  # drivedb: rest, highway, city (Healey & Picard 2005)

# Topics under dms/<device_id>/.
STATE = "state"
EVENTS = "events"
HEALTH = "health"
STATS = "stats"
AVAILABILITY = "availability"
CMD_RESULT = "cmd/result"
# Not an MQTT topic: the last line of a RUN.jsonl (`dms replay --jsonl`), the replay's summary.
REPLAY_SUMMARY = "replay"
COMMANDS: tuple[str, ...] = ("ack", "calibrate", "reload")


def event_topic(kind: str) -> str:
    """Each alert kind's own events topic, beside `events` (Home Assistant's binary sensors read it)."""
    return f"{EVENTS}/{kind}"


def command_topic(name: str) -> str:
    return f"cmd/{name}"

"""Alerts a previous run left open: it crashed or lost power between an alert's start and its end. The next start
ends them (evidence `end_reason` "restart"), so subscribers and Home Assistant never show an alert that nothing will
ever end."""

from __future__ import annotations

import json
from typing import Any

RESTART = "restart"


def restart_end(alert_id: str, last: bytes, restarted_at: str) -> dict[str, Any] | None:
    """The end message of an alert, from the last message the previous run stored for it. It ends at that message's
    time, the last moment it is known to have been on (pipeline times of the previous run, and their wall times as
    published then); `restarted_at` (wall ISO time) goes into the evidence. None when the stored message is not one
    of ours (a damaged file): an end without its kind and level would break the contract."""
    try:
        event = json.loads(last)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(event, dict) or event.get("id") != alert_id or not isinstance(event.get("evidence"), dict):
        return None
    return {
        **event,
        "type": "end",
        "ended_at": event.get("t"),
        "wall_ended_at": event.get("wall_t"),
        "evidence": {**event["evidence"], "end_reason": RESTART, "restarted_at": restarted_at},
    }

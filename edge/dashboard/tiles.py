"""The few numbers a tile and a chart show, read defensively from the device's payloads (a field that is missing
or of the wrong type reads as None: a newer or an older device must not break the page). Pure."""

from __future__ import annotations

import math
from typing import Any

HEALTH_COMPONENTS = ("camera", "serial", "audio", "broker")


def get(doc: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(key)
    return doc


def num(doc: Any, *path: str) -> float | None:
    x = get(doc, *path)
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
        return None
    return float(x)


def text(doc: Any, *path: str) -> str | None:
    x = get(doc, *path)
    return x if isinstance(x, str) else None


def driver(state: dict[str, Any] | None) -> dict[str, Any]:
    """Driver level, eyes, attention, stress and emotion of the latest `state` (docs/schemas/state.json)."""
    on_road = get(state, "distraction", "on_road")
    return {
        "t": num(state, "t"),
        "face": get(state, "face", "present") is True,
        "level": text(state, "drowsiness", "level"),
        "kss": num(state, "drowsiness", "kss"),
        "eyes": {
            "visible": get(state, "eyes", "visible") is True,
            "left": text(state, "eyes", "left"),
            "right": text(state, "eyes", "right"),
            "closed_prob": num(state, "eyes", "closed_prob"),
            "perclos": num(state, "eyes", "perclos"),
            "reason": text(state, "eyes", "reason"),
        },
        "attention": {
            "on_road": on_road if isinstance(on_road, bool) else None,
            "off_road_s": num(state, "distraction", "off_road_s"),
        },
        "stress": {"level": text(state, "stress", "level"), "score": num(state, "stress", "score")},
        "emotion": {"dominant": text(state, "emotion", "dominant"), "confidence": num(state, "emotion", "confidence")},
    }


def chart_point(state: dict[str, Any], received: float) -> dict[str, Any]:
    """One sample of the device page's charts, at the dashboard's receive time (device clocks differ)."""
    return {
        "ts": round(received, 3),
        "kss": num(state, "drowsiness", "kss"),
        "closed_prob": num(state, "eyes", "closed_prob"),
        "perclos": num(state, "eyes", "perclos"),
        "off_road_s": num(state, "distraction", "off_road_s"),
        "stress": num(state, "stress", "score"),
        "arousal": num(state, "fusion", "arousal"),
        "hr_bpm": num(state, "physio", "hr_bpm"),
    }


def health(doc: dict[str, Any] | None) -> dict[str, Any]:
    """camera, serial, audio, broker as the device reports them, and the outbox from the broker's metrics."""
    components = get(doc, "components")
    out: dict[str, Any] = {}
    for name in HEALTH_COMPONENTS:
        c = get(components, name)
        out[name] = {"state": text(c, "state") or "unknown", "detail": text(c, "detail")}
    metrics = get(components, "broker", "metrics")
    persistent, salvaged = get(metrics, "outbox_persistent"), num(metrics, "outbox_salvaged")
    if not isinstance(metrics, dict):
        outbox = {"state": "unknown", "detail": None}
    elif persistent is False or out["broker"]["state"] == "degraded":  # alerts in memory now, not "once failed"
        outbox = {"state": "degraded", "detail": out["broker"]["detail"] or "alerts kept in memory"}
    else:  # a file repaired at start is worth a word, not a warning: the device runs durable
        outbox = {"state": "ok", "detail": None if salvaged is None else f"repaired, {salvaged:g} row(s) salvaged"}
    outbox.update(pending=num(metrics, "pending"), dropped_alerts=num(metrics, "dropped_alerts"))
    out["outbox"] = outbox
    return {"status": text(doc, "status"), "fps": num(doc, "fps"), "components": out}

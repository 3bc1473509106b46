"""The `health` and `stats` payloads (docs/schemas/health.json, stats.json), built from plain snapshots. Pure."""

from __future__ import annotations

from typing import Any

from edge.names import SCHEMA_VERSION
from edge.sources.supervised import SourceHealth, SourceState

_COMPONENT_STATES: dict[SourceState, str] = {
    "disabled": "disabled", "starting": "degraded", "ok": "ok", "silent": "degraded", "unavailable": "unavailable",
    "stopped": "unavailable",
}


def source_component(h: SourceHealth) -> dict[str, Any]:
    """A live source's component: its state, why it is not ok, and its metrics (floats to the millisecond); a
    disabled source has no metrics."""
    if h.state == "disabled":
        return {"state": "disabled", "detail": h.detail}
    metrics = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in h.metrics.items()}
    return {"state": _COMPONENT_STATES[h.state], "detail": h.detail, "metrics": metrics}


def health_payload(
    t: float,
    uptime_s: float,
    components: dict[str, dict[str, Any]],
    processed_fps: float | None,
    dropped_frames: int,
    config_error: str | None = None,
) -> dict[str, Any]:
    """`components` in publishing order: camera, audio, serial, models, and broker when the caller has it (else the
    MQTT sink fills in its own link). A config that failed to reload keeps the daemon on the old one and says why
    in a `config` component. Audio and serial sensors are optional: their faults show in their components and as
    "monitoring degraded" in the driver state, not in `status`, which is about the camera and the models."""
    components = dict(components)
    if config_error is not None:
        components["config"] = {"state": "degraded", "detail": config_error}
    states = [c["state"] for name, c in components.items() if name in ("camera", "models")]
    status = "down" if "unavailable" in states else "degraded" if "degraded" in states or config_error else "ok"
    return {
        "v": SCHEMA_VERSION,
        "t": round(t, 3),
        "status": status,
        "uptime_s": round(uptime_s, 1),
        "fps": None if processed_fps is None else round(processed_fps, 2),
        "dropped_frames": dropped_frames,
        "components": components,
    }


def stats_payload(
    t: float,
    interval_s: float,
    stages: dict[str, dict[str, float]],
    processed_fps: float | None,
    dropped_frames: int,
    cpu_percent: float | None,
    memory_mb: float | None,
    temperature_c: float | None,
    throttling: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "v": SCHEMA_VERSION,
        "t": round(t, 3),
        "interval_s": interval_s,
        "stages": {name: {k: row[k] for k in ("p50_ms", "p95_ms", "p99_ms", "count")} for name, row in stages.items()},
        "fps": None if processed_fps is None else round(processed_fps, 2),
        "dropped_frames": dropped_frames,
        "cpu_percent": None if cpu_percent is None else round(cpu_percent, 1),
        "memory_mb": None if memory_mb is None else round(memory_mb, 1),
        "temperature_c": temperature_c,
        "throttling": throttling,
    }

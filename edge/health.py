"""The `health` and `stats` payloads (docs/schemas/health.json, stats.json), built from plain snapshots. Pure."""

from __future__ import annotations

from typing import Any

from edge.sources.audio import AudioStatus
from edge.sources.camera import CameraHealth
from edge.sources.serial import SerialHealth

SCHEMA_VERSION = 1
_CAMERA_STATES = {"ok": "ok", "starting": "degraded", "unavailable": "unavailable", "stopped": "unavailable"}
_SERIAL_STATES = {
    "disabled": "disabled", "starting": "degraded", "ok": "ok", "silent": "degraded", "unavailable": "unavailable",
    "stopped": "unavailable",
}


def camera_component(h: CameraHealth, source: str) -> dict[str, Any]:
    state = _CAMERA_STATES[h.state]
    detail = None
    if h.state == "starting":
        detail = f"opening {source}"
    elif state != "ok":
        detail = h.last_error or f"{source}: no frames"
    return {
        "state": state,
        "detail": detail,
        "metrics": {
            "source": source,
            "fps": round(h.fps, 2),
            "frames": h.frames,
            "dropped": h.dropped,
            "reopens": h.reopens,
            "errors": h.errors,
            "last_frame_age_s": None if h.last_frame_age_s is None else round(h.last_frame_age_s, 3),
        },
    }


def serial_component(h: SerialHealth, port: str | None) -> dict[str, Any]:
    if h.state == "disabled":
        return {"state": "disabled", "detail": "no serial sensor configured"}
    metrics = {k: v for k, v in h.as_dict().items() if k not in ("state", "last_error")}
    metrics = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in metrics.items()}
    detail = None if h.state == "ok" else (h.last_error or f"{port}: {h.state}")
    return {"state": _SERIAL_STATES[h.state], "detail": detail, "metrics": {"port": port, **metrics}}


def audio_component(status: AudioStatus | None, device: str | int | None) -> dict[str, Any]:
    """`status` None: audio is disabled in the config."""
    if status is None:
        return {"state": "disabled", "detail": "audio disabled in the config ([audio] enabled = false)"}
    state = {"ok": "ok", "starting": "degraded", "unavailable": "unavailable", "stopped": "unavailable"}[status.state]
    metrics = {k: v for k, v in status.as_dict().items() if k not in ("state", "detail")}
    age = metrics["last_audio_age_s"]
    metrics["last_audio_age_s"] = None if age is None else round(age, 3)
    return {"state": state, "detail": status.detail, "metrics": {"configured_device": device, **metrics}}


def health_payload(
    t: float,
    uptime_s: float,
    camera: dict[str, Any],
    models: dict[str, Any],
    processed_fps: float | None,
    dropped_frames: int,
    serial: dict[str, Any] | None = None,
    broker: dict[str, Any] | None = None,
    config_error: str | None = None,
    audio: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """`broker` None: the MQTT sink fills in its own link. A config that failed to reload keeps the daemon on the
    old one and says why here. Audio and serial sensors are optional: their faults show in their components and
    as "monitoring degraded" in the driver state, not in `status`, which is about the camera and the models."""
    components: dict[str, Any] = {
        "camera": camera,
        "audio": audio or audio_component(None, None),
        "serial": serial or {"state": "disabled", "detail": "no serial sensor configured"},
        "models": models,
    }
    if broker is not None:
        components["broker"] = broker
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

import json
from pathlib import Path

import jsonschema

from edge.health import audio_component, camera_component, health_payload, stats_payload
from edge.sources.audio import AudioStatus
from edge.sources.camera import CameraHealth
from edge.sysinfo import decode_throttled

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "schemas"
HEALTH = json.loads((SCHEMAS / "health.json").read_text())
STATS = json.loads((SCHEMAS / "stats.json").read_text())
MODELS = {"state": "ok", "detail": None}
BROKER = {"state": "ok", "detail": None}


def _camera(state: str, error: str | None = None) -> dict:
    return camera_component(CameraHealth(state, 29.5, 300, 2, 0, 0, 0.03, error), "/dev/video0")


def test_a_dead_camera_makes_the_status_down_and_says_why():
    payload = health_payload(10.0, 10.0, _camera("unavailable", "read failed"), MODELS, None, 2, broker=BROKER)
    jsonschema.validate(payload, HEALTH)
    assert payload["status"] == "down" and payload["components"]["camera"]["detail"] == "read failed"


def test_healthy_and_degraded():
    ok = health_payload(10.0, 10.0, _camera("ok"), MODELS, 29.0, 2, broker=BROKER)
    jsonschema.validate(ok, HEALTH)
    assert ok["status"] == "ok" and ok["components"]["serial"]["state"] == "disabled"
    refused = health_payload(10.0, 10.0, _camera("ok"), MODELS, 29.0, 2, broker=BROKER, config_error="bad key")
    jsonschema.validate(refused, HEALTH)
    assert refused["status"] == "degraded" and refused["components"]["config"]["detail"] == "bad key"


def test_stats_carry_throttling_where_the_board_has_it():
    stages = {"vision": {"p50_ms": 4.0, "p95_ms": 5.0, "p99_ms": 6.0, "count": 60}}
    pi = stats_payload(30.0, 30.0, stages, 29.0, 2, 55.0, 180.0, 61.5, decode_throttled(0x50005).as_dict())
    jsonschema.validate(pi, STATS)
    assert pi["throttling"]["under_voltage_now"] is True
    other = stats_payload(30.0, 30.0, stages, None, 0, None, None, None)
    jsonschema.validate(other, STATS)
    assert other["throttling"] is None


def test_audio_is_disabled_unless_configured_and_says_why_it_is_unavailable():
    off = health_payload(10.0, 10.0, _camera("ok"), MODELS, 29.0, 2, broker=BROKER)
    assert off["components"]["audio"]["state"] == "disabled"
    dead = AudioStatus("unavailable", "no audio input device found", None, 0, 0, 0, 3, 3, None)
    payload = health_payload(10.0, 10.0, _camera("ok"), MODELS, 29.0, 2, broker=BROKER,
                             audio=audio_component(dead, "USB"))
    jsonschema.validate(payload, HEALTH)
    audio = payload["components"]["audio"]
    assert audio["state"] == "unavailable" and audio["detail"] == "no audio input device found"
    assert audio["metrics"]["configured_device"] == "USB" and audio["metrics"]["reopens"] == 3
    assert payload["status"] == "ok"  # an optional sensor: monitoring degraded, not the service down
    ok = AudioStatus("ok", None, "USB Audio: mic", 16000, 1, 0, 0, 0, 0.0123456)
    audio = audio_component(ok, None)
    assert audio["state"] == "ok" and audio["metrics"]["device"] == "USB Audio: mic"
    assert audio["metrics"]["last_audio_age_s"] == 0.012

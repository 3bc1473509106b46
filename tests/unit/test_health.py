import json
from pathlib import Path

import jsonschema

from edge.config import AudioConfig, CameraConfig, SerialConfig
from edge.health import health_payload, source_component, stats_payload
from edge.sources.audio import MicrophoneSource
from edge.sources.camera import LiveCamera
from edge.sources.serial import SerialSource
from edge.sources.supervised import SourceHealth
from edge.sysinfo import decode_throttled

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "schemas"
HEALTH = json.loads((SCHEMAS / "health.json").read_text())
STATS = json.loads((SCHEMAS / "stats.json").read_text())
MODELS = {"state": "ok", "detail": None}
BROKER = {"state": "ok", "detail": None}
SERIAL_OFF = source_component(SerialSource(SerialConfig()).health())  # no port: disabled
AUDIO_OFF = source_component(MicrophoneSource(AudioConfig()).health())  # enabled = false: disabled


def _camera(state: str, error: str | None = None) -> dict:
    metrics = {"source": "/dev/video0", "fps": 29.5, "frames": 300, "dropped": 2, "reopens": 0, "errors": 0,
               "last_frame_age_s": 0.03}
    return source_component(SourceHealth(state, None if state == "ok" else error, 0, 0, metrics, error))


def _payload(camera: dict, processed_fps: float | None, audio: dict = AUDIO_OFF, config_error: str | None = None):
    components = {"camera": camera, "audio": audio, "serial": SERIAL_OFF, "models": MODELS, "broker": BROKER}
    return health_payload(10.0, 10.0, components, processed_fps, 2, config_error=config_error)


def test_a_dead_camera_makes_the_status_down_and_says_why():
    payload = _payload(_camera("unavailable", "read failed"), None)
    jsonschema.validate(payload, HEALTH)
    assert payload["status"] == "down" and payload["components"]["camera"]["detail"] == "read failed"


def test_healthy_and_degraded():
    ok = _payload(_camera("ok"), 29.0)
    jsonschema.validate(ok, HEALTH)
    assert ok["status"] == "ok" and ok["components"]["serial"]["state"] == "disabled"
    refused = _payload(_camera("ok"), 29.0, config_error="bad key")
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


def _audio(state: str, detail: str | None, device: str | None, reopens: int, age: float | None) -> SourceHealth:
    metrics = {"configured_device": "USB", "device": device, "samples": 16000, "overflows": 1, "overrun": 0,
               "reopens": reopens, "errors": reopens, "last_audio_age_s": age}
    return SourceHealth(state, detail, reopens, reopens, metrics)


def test_audio_is_disabled_unless_configured_and_says_why_it_is_unavailable():
    off = _payload(_camera("ok"), 29.0)
    assert off["components"]["audio"]["state"] == "disabled"
    dead = _audio("unavailable", "no audio input device found", None, 3, None)
    payload = _payload(_camera("ok"), 29.0, audio=source_component(dead))
    jsonschema.validate(payload, HEALTH)
    audio = payload["components"]["audio"]
    assert audio["state"] == "unavailable" and audio["detail"] == "no audio input device found"
    assert audio["metrics"]["configured_device"] == "USB" and audio["metrics"]["reopens"] == 3
    assert payload["status"] == "ok"  # an optional sensor: monitoring degraded, not the service down
    audio = source_component(_audio("ok", None, "USB Audio: mic", 0, 0.0123456))
    assert audio["state"] == "ok" and audio["metrics"]["device"] == "USB Audio: mic"
    assert audio["metrics"]["last_audio_age_s"] == 0.012


def test_each_source_state_maps_to_a_component_state():
    expected = {"ok": "ok", "starting": "degraded", "silent": "degraded", "unavailable": "unavailable",
                "stopped": "unavailable", "disabled": "disabled"}
    for state, component in expected.items():
        assert source_component(SourceHealth(state, "why", 0, 0, {"n": 1}))["state"] == component  # type: ignore[arg-type]


def test_the_published_components_are_what_they_were():
    # The exact JSON (key order and rounding included) subscribers of health have always had.
    camera = LiveCamera(CameraConfig(source="/dev/video0"))
    assert json.dumps(source_component(camera.health())) == (
        '{"state": "degraded", "detail": "opening /dev/video0", "metrics": {"source": "/dev/video0", "fps": 0.0, '
        '"frames": 0, "dropped": 0, "reopens": 0, "errors": 0, "last_frame_age_s": null}}'
    )
    serial = SerialSource(SerialConfig(port="/dev/ttyUSB0"), clock=lambda: 10.0)
    assert json.dumps(source_component(serial.health())) == (
        '{"state": "degraded", "detail": "/dev/ttyUSB0: starting", "metrics": {"port": "/dev/ttyUSB0", "rate": 0.0, '
        '"lines": 0, "samples": 0, "bad_lines": 0, "checksum_failures": 0, "gaps": 0, "leads_off": 0, '
        '"leads_off_now": false, "dropped": 0, "reopens": 0, "errors": 0, "last_sample_age_s": null}}'
    )
    mic = MicrophoneSource(AudioConfig(enabled=True, device="USB"))
    assert json.dumps(source_component(mic.health())) == (
        '{"state": "degraded", "detail": "opening the audio device", "metrics": {"configured_device": "USB", '
        '"device": null, "samples": 0, "overflows": 0, "overrun": 0, "reopens": 0, "errors": 0, '
        '"last_audio_age_s": null}}'
    )
    assert SERIAL_OFF == {"state": "disabled", "detail": "no serial sensor configured"}
    assert AUDIO_OFF == {"state": "disabled", "detail": "audio disabled in the config ([audio] enabled = false)"}
    camera.stop()
    assert source_component(camera.health())["detail"] == "/dev/video0: no frames"

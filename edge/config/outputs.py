"""Config sections of what leaves the monitor: MQTT, recording and the state rate."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from edge.config._base import Seconds, _Section, bounded


class MqttConfig(_Section):
    enabled: bool = False  # `dms run` publishes when true; `dms replay --mqtt URL` enables it for one replay
    host: str = Field("localhost", min_length=1)
    port: int = bounded(1883, ge=1, le=65535, why="the largest TCP port")
    client_id: str | None = Field(None, pattern=r"^[A-Za-z0-9_-]{1,64}$")  # default: dms-<device_id>-<random>
    # s; MQTT allows 18 h, but the broker notices a dead device (its last will) only after 1.5x this.
    keepalive_s: int = bounded(30, ge=5, le=3600, why="an hour: a dead device would go unnoticed for longer")
    username: str | None = None
    # The password is never in this file: systemd's LoadCredential (file `password_credential` in
    # $CREDENTIALS_DIRECTORY), else the environment variable `password_env`.
    password_credential: str = "mqtt-password"
    password_env: str = "DMS_MQTT_PASSWORD"
    tls: bool = False
    ca_file: Path | None = None  # default: the system's trust store
    cert_file: Path | None = None  # client certificate for mutual TLS
    key_file: Path | None = None
    reconnect_min_s: Seconds = 1.0
    reconnect_max_s: Seconds = 60.0
    outbox_path: Path = Path("/var/lib/dms/outbox.sqlite")  # alerts wait here until the broker acknowledged them
    # Beyond: the oldest telemetry goes first, alerts never before it.
    outbox_max_rows: int = bounded(
        10_000, ge=100, le=1_000_000, why="about 1 GB of SQLite at 1 kB a message, a week of state at 2 Hz")
    stats_interval_s: Seconds = 30.0
    # Commands from the broker per second, per device, and at once; beyond, each is answered "rate limited". A
    # person acknowledging alerts or a dashboard never comes near; a flood never reaches the pipeline.
    commands_per_s: float = bounded(10.0, gt=0.0, le=1000.0, why="far beyond any person or dashboard; a flood's pace")
    command_burst: int = bounded(20, ge=1, le=1000, why="commands at once; more is a flood, not a burst")
    homeassistant: bool = True  # Home Assistant device discovery
    homeassistant_prefix: str = Field("homeassistant", min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> MqttConfig:
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError("reconnect_max_s must be >= reconnect_min_s")
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together")
        return self


class RecordingConfig(_Section):
    # Privacy: `dms record` writes camera frames to disk; it refuses to run unless this is true.
    enabled: bool = False


class StateConfig(_Section):
    state_hz: float = bounded(  # rate of the retained `state` message
        2.0, gt=0.0, le=60.0, why="a display's refresh rate; faster only floods the broker")

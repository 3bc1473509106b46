"""Config sections of what leaves the monitor: MQTT, recording and the state rate."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from edge.config._base import Seconds, _Section


class MqttConfig(_Section):
    enabled: bool = False  # `dms run` publishes when true; `dms replay --mqtt URL` enables it for one replay
    host: str = Field("localhost", min_length=1)
    port: int = Field(1883, ge=1, le=65535)
    client_id: str | None = Field(None, pattern=r"^[A-Za-z0-9_-]{1,64}$")  # default: dms-<device_id>-<random>
    keepalive_s: int = Field(30, ge=5, le=3600)
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
    outbox_max_rows: int = Field(10_000, ge=100)  # beyond: the oldest telemetry goes first, alerts never before it
    stats_interval_s: Seconds = 30.0
    # Commands from the broker per second, per device, and at once; beyond, each is answered "rate limited". A
    # person acknowledging alerts or a dashboard never comes near; a flood never reaches the pipeline.
    commands_per_s: float = Field(10.0, gt=0.0, le=1000.0)
    command_burst: int = Field(20, ge=1, le=1000)
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
    state_hz: float = Field(2.0, gt=0.0, le=60.0)  # rate of the retained `state` message

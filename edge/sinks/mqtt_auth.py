"""How every client of the broker authenticates, as [mqtt] says: TLS, the username, and the password (never in
the config file). Shared by the MQTT sink and the MQTT speed source (edge/sources/speed_mqtt.py)."""

from __future__ import annotations

import os
from pathlib import Path

import paho.mqtt.client as paho

from edge.config import MqttConfig


def read_password(cfg: MqttConfig) -> str | None:
    """systemd's LoadCredential file first, then the environment. The value is never logged."""
    creds = os.environ.get("CREDENTIALS_DIRECTORY")
    if creds:
        path = Path(creds) / cfg.password_credential
        if path.is_file():
            return path.read_text(encoding="utf-8").rstrip("\r\n")
    return os.environ.get(cfg.password_env) or None


def secure(client: paho.Client, cfg: MqttConfig) -> None:
    """TLS and credentials as [mqtt] says: every client of the broker (this sink, the speed source) uses it."""
    if cfg.tls:
        client.tls_set(
            ca_certs=str(cfg.ca_file) if cfg.ca_file else None,
            certfile=str(cfg.cert_file) if cfg.cert_file else None,
            keyfile=str(cfg.key_file) if cfg.key_file else None,
        )
    if cfg.username:
        client.username_pw_set(cfg.username, read_password(cfg))

"""`--mqtt mqtt://[USER@]HOST[:PORT]` (mqtts:// for TLS) and `--device-id` as config overrides, validated like the
config file. One parser for every command that takes a broker URL (replay, dashboard)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from edge.config import Config, with_overrides


class MqttUrlError(ValueError):
    """A broker URL that cannot be used; the message says why (a usage error, exit code 2)."""


def with_mqtt_url(cfg: Config, url: str | None, device_id: str | None) -> Config:
    overrides: dict[str, Any] = {}
    if device_id is not None:
        overrides["device_id"] = device_id
    if url is not None:
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise MqttUrlError(f"--mqtt {url!r}: expected mqtt://HOST[:PORT] or mqtts://HOST[:PORT]")
        try:
            port = parts.port
        except ValueError:
            raise MqttUrlError(f"--mqtt {url!r}: bad port") from None
        if parts.password:
            raise MqttUrlError("--mqtt: no password in the URL (it would show in the process list); "
                               f"set ${cfg.mqtt.password_env} instead")
        tls = parts.scheme == "mqtts"
        mqtt = {"enabled": True, "host": parts.hostname, "port": port or (8883 if tls else 1883), "tls": tls}
        if parts.username:
            mqtt["username"] = parts.username
        overrides["mqtt"] = mqtt
    return with_overrides(cfg, "--mqtt/--device-id", overrides)

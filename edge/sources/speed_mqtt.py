"""The vehicle's speed from an MQTT topic (docs/mqtt.md, "Vehicle speed"): a gateway on the vehicle bus, Node-RED,
Home Assistant or a phone publishes it; this source subscribes on the [mqtt] broker, with its TLS and credentials
(edge/sinks/mqtt_auth.py).

Its own paho client, driven by the supervised thread (`client.loop`), not by paho's network thread: a lost
connection is a failure the base reports and reopens with backoff, like any device.
"""

from __future__ import annotations

import json
import math
import secrets
import time
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from edge.config import MqttConfig, SpeedConfig
from edge.sinks.mqtt_auth import secure
from edge.sources.speed import SpeedSource
from edge.sources.supervised import SourceFailure

_LOOP_S = 0.2  # client.loop's wait: how often the thread checks stop()


def speed_topic(topic: str, device_id: str) -> str:
    """[speed] mqtt_topic: relative to dms/<device_id>/, or absolute with a leading "/" (which is dropped)."""
    return topic[1:] if topic.startswith("/") else f"dms/{device_id}/{topic}"


def parse_payload(data: bytes, wall_now: float) -> tuple[object, float | None]:
    """(the speed value, its age in seconds, None without a `ts`) of a payload: a bare JSON number (km/h), or an
    object {"speed_kmh": number, "ts": Unix seconds (optional)}. Raises ValueError saying why it is not one."""
    try:
        obj = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise ValueError(f"not JSON: {data[:40]!r}") from None
    if not isinstance(obj, dict):
        return obj, None
    if "speed_kmh" not in obj:
        raise ValueError(f"no speed_kmh in {sorted(obj)[:5]}")
    ts = obj.get("ts")
    if ts is None:
        return obj["speed_kmh"], None
    if isinstance(ts, bool) or not isinstance(ts, (int, float)) or not math.isfinite(ts):
        raise ValueError(f"ts is not a Unix time: {ts!r}")
    return obj["speed_kmh"], max(0.0, wall_now - ts)  # a publisher's clock ahead of ours: measured now


class MqttSpeedSource(SpeedSource):
    name = "mqtt"

    def __init__(self, cfg: SpeedConfig, mqtt: MqttConfig, device_id: str, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time):
        self.topic = speed_topic(cfg.mqtt_topic, device_id)
        super().__init__(cfg, f"MQTT speed topic {self.topic!r} on {mqtt.host}:{mqtt.port}", clock)
        self._mqtt = mqtt
        self._device_id = device_id
        self._wall = wall
        self._refused: str | None = None  # the thread's own: why the broker refused this connection
        self._skipped_retained = 0

    def _open_and_pump(self) -> bool:
        cfg = self._mqtt
        client_id = f"dms-{self._device_id}-speed-{secrets.token_hex(4)}"
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv311)
        secure(client, cfg)
        client.on_connect = self._on_connect
        client.on_message = self._on_message
        self._refused = None
        try:
            client.connect(cfg.host, cfg.port, keepalive=cfg.keepalive_s)
        except (OSError, ValueError) as err:  # refused, unreachable, TLS handshake (ssl.SSLError is an OSError)
            raise SourceFailure(f"{self._subject}: cannot connect: {err}") from None
        before = self._readings
        try:
            while not self._stop.is_set():
                rc = client.loop(timeout=_LOOP_S)
                delivered = self._readings > before
                if self._refused is not None:
                    raise SourceFailure(f"{self._subject}: the broker refused: {self._refused}", delivered)
                if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                    raise SourceFailure(f"{self._subject}: connection lost ({paho.error_string(rc)})", delivered)
            return self._readings > before
        finally:
            self._closed()
            try:
                client.disconnect()
            except Exception:  # noqa: BLE001 - closing a dead connection may fail; it is closed either way
                pass

    def _on_connect(self, client: paho.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            self._refused = str(reason)
            return
        client.subscribe(self.topic, qos=0)  # speed is a stream: a lost reading is replaced by the next one
        self._opened()

    def _on_message(self, client: paho.Client, userdata: Any, msg: paho.MQTTMessage) -> None:
        try:
            value, age = parse_payload(msg.payload, self._wall())
        except ValueError as err:
            self._bad_input(str(err))
            return
        if age is None and msg.retain:
            # A retained reading without its time may be hours old: it must not pass for the current speed.
            with self._lock:
                self._skipped_retained += 1
            return
        self._accept(value, age or 0.0)

    def _metrics(self, now: float) -> dict[str, Any]:
        return {**super()._metrics(now), "topic": self.topic, "skipped_retained": self._skipped_retained}

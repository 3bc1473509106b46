"""The dashboard's MQTT client (paho 2.x): subscribes `dms/+/#`, hands every message to a callback, publishes
commands. TLS and credentials as the daemon's [mqtt] says (edge/sinks/mqtt_auth.py).

A persistent session (clean_session false, a stable client id): while the dashboard restarts, the broker queues
the QoS 1 events for it, so the history misses none; what it re-delivers twice the store ignores.
"""

from __future__ import annotations

import logging
import re
import socket
from typing import Any, Callable

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from edge.config import MqttConfig
from edge.dashboard.messages import SUBSCRIPTION
from edge.sinks.mqtt_auth import secure

log = logging.getLogger("edge.dashboard")

OnMessage = Callable[[str, bytes, bool], None]  # topic, payload, retained; called on paho's network thread


def client_id(cfg: MqttConfig) -> str:
    """[mqtt] client_id, else one per host: two dashboards on one host would share (and kick off) a session."""
    host = re.sub(r"[^A-Za-z0-9_-]", "-", socket.gethostname())
    return cfg.client_id or f"dms-dashboard-{host}"[:64]


class Link:
    def __init__(self, cfg: MqttConfig, on_message: OnMessage, client_id_: str | None = None):
        self.cfg = cfg
        self.on_message = on_message
        self.connected = False
        self._closing = False
        self._started = False
        self.last_error: str | None = None
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id_ or client_id(cfg),
                                  clean_session=False, protocol=paho.MQTTv311)
        self.client.reconnect_delay_set(cfg.reconnect_min_s, cfg.reconnect_max_s)  # type: ignore[arg-type]
        secure(self.client, cfg)
        self.client.on_socket_open = self._on_socket_open
        self.client.on_connect = self._on_connect
        self.client.on_connect_fail = self._on_connect_fail
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message

    def start(self) -> None:
        log.info("MQTT: connecting to %s:%d (tls=%s)", self.cfg.host, self.cfg.port, self.cfg.tls)
        self.client.connect_async(self.cfg.host, self.cfg.port, keepalive=self.cfg.keepalive_s)
        self.client.loop_start()
        self._started = True

    def publish(self, topic: str, payload: bytes) -> bool:
        """QoS 1, not retained (a retained command would run again on every start of the device)."""
        info = self.client.publish(topic, payload, qos=1, retain=False)
        return info.rc == paho.MQTT_ERR_SUCCESS

    def close(self) -> None:
        if not self._started:
            return
        self._closing = True
        self.client.disconnect()
        self.client.loop_stop()

    # -- paho callbacks (network thread): never raise --------------------------------------------------------------
    def _on_socket_open(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        try:  # a push within a second: no Nagle delay on the acks of QoS 1
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except (OSError, AttributeError) as err:
            log.debug("TCP_NODELAY not set: %s", err)

    def _on_connect(self, client: paho.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            self.last_error = f"connect refused: {reason}"
            log.warning("MQTT: %s", self.last_error)
            return
        self.connected, self.last_error = True, None
        log.info("MQTT: connected to %s:%d", self.cfg.host, self.cfg.port)
        client.subscribe(SUBSCRIPTION, qos=1)

    def _on_connect_fail(self, client: paho.Client, userdata: Any) -> None:
        self.last_error = f"cannot connect to {self.cfg.host}:{self.cfg.port}"

    def _on_disconnect(self, client: paho.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        self.connected = False
        if self._closing:
            return
        self.last_error = f"disconnected: {reason}"
        log.warning("MQTT: %s; reconnecting", self.last_error)

    def _on_message(self, client: paho.Client, userdata: Any, msg: paho.MQTTMessage) -> None:
        try:
            self.on_message(msg.topic, bytes(msg.payload), bool(msg.retain))
        except Exception:
            log.exception("MQTT message on %r failed", msg.topic)

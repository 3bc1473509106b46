"""MQTT sink (paho-mqtt 2.x): the topics of docs/mqtt.md under `dms/<device_id>/`, alerts through a durable outbox.

Threads: the caller's (publish: the frame loop), paho's network thread (callbacks), and a pump thread that hands
outbox rows to paho and deletes the acknowledged ones. No disk I/O on the caller's thread but the one transaction
that stores an event (both of its rows), none at all on paho's thread: `_on_publish` only queues the acknowledged
row id. The callbacks take only `_mid_lock`, which is never held while calling paho (paho holds its
`_out_message_mutex` while it calls on_publish).

Order of alerts: rows are handed to paho strictly in row order, only while connected, and at most MAX_INFLIGHT
ahead of their acknowledgements (paho's own window: more would only wait in paho's memory). After a reconnect paho
re-sends what it still holds (always the oldest rows) right after on_connect returns; newer rows wait until those
are acknowledged, so the broker receives them in order. A restart re-sends every row left in the outbox.

When the outbox cannot store an event (disk full, read-only file), the event goes to paho directly: QoS 1, kept in
paho's memory until acknowledged, lost only if the process ends first; it may overtake rows still waiting in the
outbox. Counted (`persist_failed`) and reported (broker component `degraded`). If the outbox file cannot be opened
at all, the sink runs on an in-memory outbox (`outbox not persistent`): live alerts still go out.
"""

from __future__ import annotations

import logging
import math
import os
import secrets
import socket
import sqlite3
import threading
import time
from collections import OrderedDict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from edge.config import MqttConfig
from edge.sinks import homeassistant as ha
from edge.sinks.commands import COMMANDS, CommandError, parse_command
from edge.sinks.encoding import encode
from edge.sinks.outbox import MEMORY, Kind, Outbox

__all__ = ["MAX_INFLIGHT", "MqttSink", "encode", "read_password", "wall_iso"]

log = logging.getLogger("edge.mqtt")

OnCommand = Callable[[str, dict[str, Any]], dict[str, Any]]
MAX_INFLIGHT = 20  # outbox rows handed to paho ahead of their acks: paho's default max_inflight_messages
_RESEND_GRACE_S = 10.0  # rows paho still holds after a reconnect get this long to be acknowledged before re-sending
_ALERTS_TRACKED = 1024  # open alerts whose last level the sink remembers (the drop class of updates)
_HANDED = (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN)  # paho keeps the message (NO_CONN: resent)


def wall_iso(t_wall: float) -> str:
    return datetime.fromtimestamp(t_wall, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _wall_or_none(t: Any, offset: float) -> str | None:
    if not isinstance(t, (int, float)) or isinstance(t, bool) or not math.isfinite(t + offset):
        return None
    try:
        return wall_iso(t + offset)
    except (OverflowError, ValueError, OSError):  # out of datetime's range: the event still goes out
        return None


def read_password(cfg: MqttConfig) -> str | None:
    """systemd's LoadCredential file first, then the environment. The value is never logged."""
    creds = os.environ.get("CREDENTIALS_DIRECTORY")
    if creds:
        path = Path(creds) / cfg.password_credential
        if path.is_file():
            return path.read_text(encoding="utf-8").rstrip("\r\n")
    return os.environ.get(cfg.password_env) or None


class MqttSink:
    def __init__(
        self,
        cfg: MqttConfig,
        device_id: str,
        on_command: OnCommand | None = None,
        *,
        wall_offset: float | None = None,
        close_timeout_s: float = 5.0,
        sw_version: str = "0",
    ):
        """`wall_offset`: wall-clock seconds minus pipeline seconds; live (default) `time.time() - time.monotonic()`
        at start, in replay the drive's `started_at` as a Unix time (the pipeline clock starts at 0)."""
        self.cfg = cfg
        self.device_id = device_id
        self.base = f"dms/{device_id}"
        self.on_command = on_command
        self.wall_offset = time.time() - time.monotonic() if wall_offset is None else wall_offset
        self.close_timeout_s = close_timeout_s
        self.sw_version = sw_version
        self.outbox = Outbox(cfg.outbox_path, cfg.outbox_max_rows)

        self._send_lock = threading.Lock()
        self._mid_lock = threading.Lock()
        self._handed: dict[int, tuple[int, int]] = {}  # paho mid -> (outbox row id, connection generation)
        self._early_acks: OrderedDict[int, None] = OrderedDict()  # acks that beat publish() returning the mid
        self._last_handed = 0  # highest row id handed to paho by this process
        self._gen = 0  # connection generation, +1 per successful connect
        self._connected_at = 0.0
        self._connected = False
        self._closing = False
        self._reconnects = 0
        self._last_error: str | None = None
        self._health: dict[str, Any] | None = None
        self._wake = threading.Event()

        client_id = cfg.client_id or f"dms-{device_id}-{secrets.token_hex(4)}"
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv311)
        # No paho logger: paho 2.2 logs an ERROR line per reconnect attempt; our callbacks log the state changes.
        self.client.reconnect_delay_set(cfg.reconnect_min_s, cfg.reconnect_max_s)  # type: ignore[arg-type]  # floats work
        if cfg.tls:
            self.client.tls_set(
                ca_certs=str(cfg.ca_file) if cfg.ca_file else None,
                certfile=str(cfg.cert_file) if cfg.cert_file else None,
                keyfile=str(cfg.key_file) if cfg.key_file else None,
            )
        if cfg.username:
            self.client.username_pw_set(cfg.username, read_password(cfg))
        self.client.will_set(self.topic("availability"), "offline", qos=1, retain=True)
        self.client.on_socket_open = self._on_socket_open
        self.client.on_connect = self._on_connect
        self.client.on_connect_fail = self._on_connect_fail
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish
        self.client.on_message = self._on_message

        self._pump_thread = threading.Thread(target=self._pump_loop, name="dms-mqtt-pump", daemon=True)
        self._pump_thread.start()
        log.info("MQTT: connecting to %s:%d as %s (tls=%s)", cfg.host, cfg.port, client_id, cfg.tls)
        self.client.connect_async(cfg.host, cfg.port, keepalive=cfg.keepalive_s)
        self.client.loop_start()

    # -- Sink protocol -------------------------------------------------------------------------------------------
    def topic(self, rel: str) -> str:
        return f"{self.base}/{rel}"

    def publish(self, topic: str, payload: dict[str, Any]) -> None:
        try:
            if topic == "events":
                self._publish_event(payload)
            elif topic == "health":
                self._health = payload
                if self._connected:
                    self._send("health", self._health_payload(payload), qos=1, retain=True)
            elif topic == "state":
                if self._connected:  # latest only: a stale state is worthless after an outage
                    self._send("state", encode(payload), qos=0, retain=True)
            elif topic == "availability":
                log.debug("availability is the sink's own topic; ignored")
            elif self._connected:
                self._send(topic, encode(payload), qos=0, retain=False)
        except Exception:  # a sink must never take the pipeline down
            log.exception("MQTT publish on %s failed", topic)

    def close(self) -> None:
        """Wait (bounded) for the outbox to drain, publish `stopped`, disconnect. Rows left wait for the next start."""
        deadline = time.monotonic() + self.close_timeout_s
        self._wake.set()
        while self.outbox.count() and time.monotonic() < deadline:
            time.sleep(0.01)
        self._closing = True
        if self._connected:
            info = self.client.publish(self.topic("availability"), "stopped", qos=1, retain=True)
            try:
                info.wait_for_publish(max(0.1, deadline - time.monotonic()))
            except (RuntimeError, ValueError) as err:
                log.warning("MQTT: 'stopped' not sent: %s", err)
        left = self.outbox.count()
        if left:
            log.warning("MQTT: %d message(s) not acknowledged at close; kept in %s", left, self.outbox.path)
        self.client.disconnect()
        self.client.loop_stop()
        self._wake.set()
        self._pump_thread.join(timeout=2.0)
        self.outbox.close()

    # -- state ---------------------------------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._connected

    def health(self) -> dict[str, Any]:
        return {
            "connected": self._connected,
            "pending": self.outbox.count(),
            "dropped_alerts": self.outbox.dropped["alert"],
            "dropped_telemetry": self.outbox.dropped["telemetry"],
            "reconnects": self._reconnects,
            "last_error": self._last_error,
        }

    def _health_payload(self, payload: dict[str, Any]) -> bytes:
        h = self.health()
        broker = {
            "state": "ok" if h["connected"] else "unavailable",
            "detail": h["last_error"],
            "metrics": {k: v for k, v in h.items() if k not in ("connected", "last_error")},
        }
        components = dict(payload.get("components") or {})
        components.setdefault("broker", broker)
        return encode({**payload, "components": components})

    # -- events through the outbox -------------------------------------------------------------------------------
    def _publish_event(self, payload: dict[str, Any]) -> None:
        event = dict(payload)
        for key in ("t", "started_at", "ended_at"):
            t = event.get(key)
            event[f"wall_{key}"] = wall_iso(t + self.wall_offset) if isinstance(t, (int, float)) else None
        data = encode(event)
        # start/end must survive a full outbox; updates are the first to go (they are re-sent while an alert lasts).
        kind = "telemetry" if event.get("type") == "update" else "alert"
        topics = [self.topic("events")]
        alert_kind = event.get("kind")
        if isinstance(alert_kind, str) and alert_kind.replace("_", "").isalnum() and len(alert_kind) <= 64:
            topics.append(self.topic(f"events/{alert_kind}"))
        with self._send_lock:
            for t in topics:
                self.outbox.put(t, data, qos=1, retain=False, kind=kind)
            self._pump_locked()

    def _pump_loop(self) -> None:
        while not (self._closing and not self._connected):
            self._wake.wait(1.0)
            self._wake.clear()
            if self._closing and not self._connected:
                break
            try:
                with self._send_lock:
                    self._pump_locked()
            except Exception:
                log.exception("MQTT outbox pump failed")

    def _pump_locked(self) -> None:
        """Hand the rows paho does not hold yet, in order (caller holds _send_lock)."""
        if not self._connected:
            return
        with self._mid_lock:
            stale = [mid for mid, (_, gen) in self._handed.items() if gen < self._gen]
            if stale:
                if time.monotonic() - self._connected_at < _RESEND_GRACE_S:
                    return  # paho re-sends these first; newer rows wait for their acks
                log.warning("MQTT: %d message(s) not acknowledged after reconnect; re-sending from the outbox",
                            len(stale))
                first = min(self._handed[m][0] for m in stale)
                for mid in stale:
                    del self._handed[mid]
                self._last_handed = min(self._last_handed, first - 1)
        while self._connected:
            rows = self.outbox.pending(limit=100, after=self._last_handed)
            if not rows:
                return
            for row in rows:
                info = self.client.publish(row.topic, row.payload, qos=row.qos, retain=row.retain)
                self._last_handed = row.id
                with self._mid_lock:
                    if info.mid in self._early_acks:
                        del self._early_acks[info.mid]
                        self.outbox.delete(row.id)
                    else:
                        self._handed[info.mid] = (row.id, self._gen)

    def _send(self, rel: str, data: bytes | str, qos: int, retain: bool) -> None:
        self.client.publish(self.topic(rel), data, qos=qos, retain=retain)

    # -- paho callbacks (network thread): never raise --------------------------------------------------------------
    def _on_socket_open(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        try:  # without it every QoS 1 round trip stalls 40-90 ms (Nagle + delayed ACK)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except (OSError, AttributeError) as err:
            log.debug("TCP_NODELAY not set: %s", err)

    def _on_connect(self, client: paho.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            self._last_error = f"connect refused: {reason}"
            log.warning("MQTT: %s", self._last_error)
            return
        try:
            if self._gen:
                self._reconnects += 1
            with self._mid_lock:
                self._gen += 1
                self._connected_at = time.monotonic()
            self._connected = True
            log.info("MQTT: connected to %s:%d", self.cfg.host, self.cfg.port)
            client.publish(self.topic("availability"), "online", qos=1, retain=True)
            client.subscribe([(self.topic(f"cmd/{name}"), 1) for name in COMMANDS])
            if self.cfg.homeassistant:
                client.subscribe(ha.status_topic(self.cfg.homeassistant_prefix), 1)
                self._publish_discovery()
            if self._health is not None:
                self._send("health", self._health_payload(self._health), qos=1, retain=True)
        except Exception:
            log.exception("MQTT on_connect failed")
        self._wake.set()

    def _on_connect_fail(self, client: paho.Client, userdata: Any) -> None:
        self._last_error = f"cannot connect to {self.cfg.host}:{self.cfg.port}"
        log.debug("MQTT: %s", self._last_error)

    def _on_disconnect(self, client: paho.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        self._connected = False
        if not self._closing:
            self._last_error = f"disconnected: {reason}"
            log.warning("MQTT: %s; reconnecting", self._last_error)
        self._wake.set()

    def _on_publish(self, client: paho.Client, userdata: Any, mid: int, reason: Any, properties: Any) -> None:
        try:
            with self._mid_lock:
                entry = self._handed.pop(mid, None)
                if entry is None:
                    self._early_acks[mid] = None
                    while len(self._early_acks) > 256:  # also acks of availability/health/results: keep it small
                        self._early_acks.popitem(last=False)
                    return
                self.outbox.delete(entry[0])
            if not self._handed:
                self._wake.set()
        except Exception:
            log.exception("MQTT on_publish failed")

    def _on_message(self, client: paho.Client, userdata: Any, msg: paho.MQTTMessage) -> None:
        try:
            if self.cfg.homeassistant and msg.topic == ha.status_topic(self.cfg.homeassistant_prefix):
                if msg.payload.strip() == b"online":
                    log.info("Home Assistant is online: discovery republished")
                    self._publish_discovery()
                return
            name = msg.topic.rsplit("/", 1)[-1]
            if msg.topic == self.topic(f"cmd/{name}") and name in COMMANDS:
                self._handle_command(name, msg.payload)
        except Exception:
            log.exception("MQTT message on %r failed", msg.topic)

    def _publish_discovery(self) -> None:
        prefix = self.cfg.homeassistant_prefix
        payload = ha.discovery_payload(self.device_id, self.base, self.sw_version)
        self.client.publish(ha.discovery_topic(prefix, self.device_id), encode(payload), qos=1, retain=True)

    def _handle_command(self, name: str, raw: bytes) -> None:
        result: dict[str, Any] = {"v": 1, "ok": False, "command": name}
        try:
            args, request_id = parse_command(name, raw)
            if request_id is not None:
                result["request_id"] = request_id
            if self.on_command is None:
                raise CommandError("commands are not handled by this process")
            answer = self.on_command(name, args)
            extra = {k: v for k, v in (answer or {}).items() if k not in ("v", "command", "request_id")}
            result.update({"ok": True, **extra})
            if not result["ok"] and not isinstance(result.get("reason"), str):
                result["reason"] = "refused"
        except CommandError as err:
            result["reason"] = str(err)
            if err.request_id is not None:
                result["request_id"] = err.request_id
            log.info("MQTT command %s rejected: %s", name, err)
        except Exception as err:  # the handler's bug must not kill the network thread
            log.exception("MQTT command %s failed", name)
            result["reason"] = f"internal error: {type(err).__name__}"
        self._send("cmd/result", encode(result), qos=1, retain=False)

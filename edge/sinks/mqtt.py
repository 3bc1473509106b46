"""MQTT sink (paho-mqtt 2.x): the topics of docs/mqtt.md under `dms/<device_id>/`, alerts through a durable outbox.

Threads: the caller's (publish: the frame loop), paho's network thread (callbacks), and a pump thread that hands
outbox rows to paho and deletes the acknowledged ones. No disk I/O on the caller's thread but the one transaction
that stores an event (both of its rows), none at all on paho's thread: `_on_publish` only queues the acknowledged
row id. The callbacks take only `_mid_lock`, which is never held while calling paho (paho holds its
`_out_message_mutex` while it calls on_publish). Commands are validated there and handed over, never run there.

Order of alerts: rows are handed to paho strictly in row order, only while connected, and at most MAX_INFLIGHT
ahead of their acknowledgements (paho's own window: more would only wait in paho's memory). After a reconnect paho
re-sends what it still holds (always the oldest rows) right after on_connect returns; newer rows wait until those
are acknowledged, so the broker receives them in order. A restart re-sends every row left in the outbox.

The outbox (outbox_keeper) heals a damaged file at start; while the file cannot be opened or written, events are
kept in memory in the same order (counted, broker component `degraded`) and the pump retries the file.
"""

from __future__ import annotations

import logging
import math
import secrets
import socket
import threading
import time
from typing import Any, Callable

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from edge.closing import closing_step
from edge.config import MqttConfig
from edge.faultlog import FaultLog
from edge.names import AVAILABILITY, CMD_RESULT, COMMANDS, EVENTS, HEALTH, STATE, command_topic, event_topic
from edge.sinks import homeassistant as ha
from edge.sinks.command_inbox import CommandInbox, Handler
from edge.sinks.drop_class import DropClasses
from edge.sinks.encoding import encode
from edge.sinks.left_open import RESTART, restart_end
from edge.sinks.mqtt_auth import read_password, secure
from edge.sinks.outbox_keeper import OutboxKeeper
from edge.version import version
from edge.wallclock import WallClock, iso_or_none, wall_iso

__all__ = ["MAX_INFLIGHT", "MqttSink", "encode", "read_password", "secure"]

log = logging.getLogger("edge.mqtt")

MAX_INFLIGHT = 20  # outbox rows handed to paho ahead of their acks: paho's default max_inflight_messages
_RESEND_GRACE_S = 10.0  # rows paho still holds after a reconnect get this long to be acknowledged before re-sending
_HANDED = (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN)  # paho keeps the message (NO_CONN: resent)


class MqttSink:
    def __init__(
        self,
        cfg: MqttConfig,
        device_id: str,
        on_command: Handler | None = None,
        *,
        wall_offset: float | None = None,
        close_timeout_s: float = 5.0,
        sw_version: str | None = None,
        end_left_open: bool = False,
        outbox_retry_s: float = 30.0,
    ):
        """`wall_offset`: wall-clock seconds minus pipeline seconds in replay (the drive's `started_at` as a Unix
        time: the pipeline clock starts at 0); live (None) the monotonic clock's, following clock steps.
        `sw_version`: the software version Home Assistant shows (default: the installed package's).
        `end_left_open`: end the alerts a previous process left open in the outbox (the daemon's start; never a
        sink rebuilt by a reload, whose process still has them open).
        Never raises for the outbox: while its file cannot be used, events are kept in memory (degraded) and the
        file is retried every `outbox_retry_s`."""
        self.cfg = cfg
        self.device_id = device_id
        self.base = f"dms/{device_id}"
        # paho's network thread hands each valid command to `on_command`, which must only queue it (and reply later)
        self.commands = CommandInbox(on_command, self._publish_result, cfg.commands_per_s, cfg.command_burst)
        self.wall = WallClock(wall_offset)
        self.close_timeout_s = close_timeout_s
        self.sw_version = sw_version or version()
        self._faults = FaultLog(log)  # a fault that repeats (per event, per round) logs once, then summaries
        self.outbox = OutboxKeeper(cfg.outbox_path, cfg.outbox_max_rows, self._faults, outbox_retry_s)

        self._mid_lock = threading.Lock()  # guards _handed, _acked, _early, _gen, _connected_at
        self._handed: dict[int, tuple[int, int]] = {}  # paho mid -> (outbox row id, connection generation)
        self._acked: list[int] = []  # row ids the broker acknowledged; the pump deletes them
        self._early: set[int] | None = None  # while the pump is inside client.publish: acks of mids not handed yet
        self._last_handed = 0  # highest row id handed to paho by this process (pump thread only)
        self._gen = 0  # connection generation, +1 per successful connect
        self._connected_at = 0.0
        self._connected = False
        self._closing = False
        self._reconnects = 0
        self._last_error: str | None = None
        self._reported: tuple[str, str | None] | None = None  # the broker link's (state, detail) last published
        self._drop_classes = DropClasses()
        self._health: dict[str, Any] | None = None
        self._wake = threading.Event()

        client_id = cfg.client_id or f"dms-{device_id}-{secrets.token_hex(4)}"
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv311)
        # No paho logger: paho 2.2 logs an ERROR line per reconnect attempt; our callbacks log the state changes.
        self.client.reconnect_delay_set(cfg.reconnect_min_s, cfg.reconnect_max_s)  # type: ignore[arg-type]  # floats work
        secure(self.client, cfg)
        self.client.will_set(self.topic(AVAILABILITY), "offline", qos=1, retain=True)
        self.client.on_socket_open = self._on_socket_open
        self.client.on_connect = self._on_connect
        self.client.on_connect_fail = self._on_connect_fail
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish
        self.client.on_message = self._on_message

        self._pump_thread = threading.Thread(target=self._pump_loop, name="dms-mqtt-pump", daemon=True)
        self._pump_thread.start()
        if end_left_open:
            self._end_left_open()
        log.info("MQTT: connecting to %s:%d as %s (tls=%s)", cfg.host, cfg.port, client_id, cfg.tls)
        self.client.connect_async(cfg.host, cfg.port, keepalive=cfg.keepalive_s)
        self.client.loop_start()

    # -- Sink protocol -------------------------------------------------------------------------------------------
    def topic(self, rel: str) -> str:
        return f"{self.base}/{rel}"

    def publish(self, topic: str, payload: dict[str, Any]) -> None:
        try:
            if topic == EVENTS:
                self._publish_event(payload)
            elif topic == HEALTH:
                self._health = payload
                if self._connected:
                    self._send(HEALTH, self._health_payload(payload), qos=1, retain=True)
            elif topic == STATE:
                if self._connected:  # latest only: a stale state is worthless after an outage
                    self._send(STATE, encode(payload), qos=0, retain=True)
            elif topic == AVAILABILITY:
                log.debug("availability is the sink's own topic; ignored")
            elif self._connected:
                self._send(topic, encode(payload), qos=0, retain=False)
        except Exception:  # a sink must never take the pipeline down
            log.exception("MQTT publish on %s failed", topic)

    def close(self) -> None:
        """Wait (bounded) for the outbox to drain, publish `stopped`, disconnect. Rows left wait for the next start.
        Each step runs whatever the one before raised (a damaged outbox, a broken socket): it is logged, and the
        network thread, the pump and the outbox file are always released."""
        deadline = time.monotonic() + self.close_timeout_s
        self._wake.set()
        _closing_step("drain the outbox", lambda: self._drain(deadline))
        self._closing = True
        if self._connected:
            _closing_step("publish 'stopped'", lambda: self._publish_stopped(deadline))
        _closing_step("disconnect", self.client.disconnect)
        _closing_step("stop the network thread", self.client.loop_stop)
        self._wake.set()
        self._pump_thread.join(timeout=2.0)
        if not self._pump_thread.is_alive():
            _closing_step("take the last acknowledgements", self._flush_acks)  # acks after the pump's last round
            _closing_step("store what is in memory", lambda: self.outbox.retry(math.inf))  # if the file works now
        _closing_step("count what is left", self._report_left)
        _closing_step("close the outbox", self.outbox.close)

    def _drain(self, deadline: float) -> None:
        while self.outbox.count() and time.monotonic() < deadline:
            time.sleep(0.01)

    def _publish_stopped(self, deadline: float) -> None:
        info = self.client.publish(self.topic(AVAILABILITY), "stopped", qos=1, retain=True)
        try:
            info.wait_for_publish(max(0.1, deadline - time.monotonic()))
        except (RuntimeError, ValueError) as err:
            log.warning("MQTT: 'stopped' not sent: %s", err)

    def _report_left(self) -> None:
        left, lost = self.outbox.count(), self.outbox.in_memory()
        if left > lost:
            log.warning("MQTT: %d message(s) not acknowledged at close; kept in %s", left - lost, self.outbox.path)
        if lost:
            log.error("MQTT: %d message(s) not acknowledged at close are lost (kept in memory)", lost)

    # -- state ---------------------------------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._connected

    def health(self) -> dict[str, Any]:
        """The broker link. `state`: ok; degraded (connected, but alerts are kept in memory: the outbox file cannot
        be opened or written); unavailable (not connected). `detail` also names a repaired outbox file. The other
        numbers go to `metrics`."""
        connected, problem = self._connected, self.outbox.problem
        state = "unavailable" if not connected else "degraded" if problem else "ok"
        detail = "; ".join(p for p in (None if connected else self._last_error, problem, self.outbox.note) if p)
        return {"state": state, "detail": detail or None, "connected": connected, **self.outbox.metrics(),
                "reconnects": self._reconnects, "commands_refused": self.commands.refused, **self.wall.metrics(),
                "last_error": self._last_error}

    def _health_payload(self, payload: dict[str, Any]) -> bytes:
        h = self.health()
        broker = {
            "state": h["state"],
            "detail": h["detail"],
            "metrics": {k: v for k, v in h.items() if k not in ("state", "detail", "connected", "last_error")},
        }
        components = dict(payload.get("components") or {})
        components.setdefault("broker", broker)
        self._reported = (h["state"], h["detail"])
        return encode({**payload, "components": components})

    def _report_change(self) -> None:
        """Health goes out at once when the broker link's state or detail changed (not per event: its period
        does the rest). Called from the caller's and the pump's thread: a race only sends it once more."""
        h = self.health()
        if self._connected and self._health is not None and (h["state"], h["detail"]) != self._reported:
            self._send(HEALTH, self._health_payload(self._health), qos=1, retain=True)

    # -- events through the outbox -------------------------------------------------------------------------------
    def _publish_event(self, payload: dict[str, Any]) -> None:
        """Store the event's rows (one transaction) and wake the pump; nothing else on the caller's thread."""
        event = dict(payload)
        offset = self.wall.offset()
        for key in ("t", "started_at", "ended_at"):
            event[f"wall_{key}"] = iso_or_none(event.get(key), offset)
        self._store_event(event)

    def _end_left_open(self) -> None:
        for alert_id, last in self.outbox.left_open():
            log.warning("MQTT: alert %s was left open by the previous run; ending it (reason %s)", alert_id, RESTART)
            end = restart_end(alert_id, last, wall_iso(time.time()))
            if end is not None:
                self._store_event(end)
            else:  # not a message of ours (a damaged file): forget it rather than publish a broken end
                self.outbox.put_many([], open_alert=(alert_id, None))

    def _store_event(self, event: dict[str, Any]) -> None:
        data = encode(event)
        kind = self._drop_classes.of(event)
        topics = [self.topic(EVENTS)]
        alert_kind = event.get("kind")
        if isinstance(alert_kind, str) and alert_kind.replace("_", "").isalnum() and len(alert_kind) <= 64:
            topics.append(self.topic(event_topic(alert_kind)))
        alert_id = event.get("id")
        open_alert = (alert_id, None if event.get("type") == "end" else data) if isinstance(alert_id, str) else None
        problem = self.outbox.problem
        self.outbox.put_many([(t, data) for t in topics], qos=1, retain=False, kind=kind, open_alert=open_alert)
        self._wake.set()
        if self.outbox.problem != problem:  # the first failed write: say so now
            self._report_change()

    def _pump_loop(self) -> None:
        while True:
            self._wake.wait(1.0)
            self._wake.clear()
            self._flush_acks()
            if self._closing and not self._connected:
                break
            try:
                self._retry_outbox()
                self._hand_rows()
            except Exception as err:
                self._faults.fault("pump", "MQTT outbox pump failed", kind=repr(err), exc_info=True)
            else:
                self._faults.clear("pump")
        self._flush_acks()

    def _retry_outbox(self) -> None:
        """Once the outbox file works again: health says so, and renumbered rows are all handed again (pump)."""
        rewind = self.outbox.retry()
        if rewind:
            with self._mid_lock:  # acks of the old numbers are ignored; those rows are sent again (duplicates)
                self._handed.clear()
                self._acked.clear()
                self._last_handed = 0
        if rewind is not None:
            self._report_change()

    def _flush_acks(self) -> None:
        """Delete the acknowledged rows, one transaction for all of them. On failure they are retried next round
        (a row that is never deleted is only sent again after a restart: a duplicate, which subscribers drop)."""
        with self._mid_lock:
            ids, self._acked = self._acked, []
        if not ids:
            return
        try:
            self.outbox.delete_many(ids)
        except Exception as err:
            with self._mid_lock:
                self._acked[:0] = ids
            self._faults.fault("delete", "MQTT: cannot delete %d acknowledged outbox row(s) (%s); retrying", len(ids),
                               err, kind=str(err), level=logging.WARNING,
                               summary="MQTT: outbox deletes failing: {n} more attempt(s) in the last {s:.0f} s")
        else:
            self._faults.clear("delete", "MQTT: acknowledged outbox rows are deleted again")

    def _hand_rows(self) -> None:
        """Hand the rows paho does not hold yet, in order, at most MAX_INFLIGHT ahead of the acks (pump thread)."""
        if not self._connected or self._closing:
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
            room = MAX_INFLIGHT - len(self._handed)
        while room > 0 and self._connected and not self._closing:
            rows = self.outbox.pending(limit=room, after=self._last_handed)
            if not rows:
                return
            for row in rows:
                info: paho.MQTTMessageInfo | None = None
                with self._mid_lock:
                    self._early = set()
                try:
                    info = self.client.publish(row.topic, row.payload, qos=row.qos, retain=row.retain)
                finally:
                    with self._mid_lock:  # one critical section with _on_publish: no ack can slip in between
                        early, self._early = self._early or set(), None
                        handed = info is not None and info.rc in _HANDED
                        if info is not None and handed:
                            if info.mid in early:  # acknowledged before publish() returned its mid
                                self._acked.append(row.id)
                            else:
                                self._handed[info.mid] = (row.id, self._gen)
                if not handed:
                    log.warning("MQTT: paho refused outbox row #%d (%s); retrying later",
                                row.id, info.rc if info else None)
                    return
                if info is not None and info.mid in early:
                    self._wake.set()  # its delete is due in the next round
                self._last_handed = row.id
                room -= 1

    def _send(self, rel: str, data: bytes | str, qos: int, retain: bool) -> None:
        self.client.publish(self.topic(rel), data, qos=qos, retain=retain)

    # -- paho callbacks (network thread): never raise, no disk I/O -------------------------------------------------
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
            client.publish(self.topic(AVAILABILITY), "online", qos=1, retain=True)
            client.subscribe([(self.topic(command_topic(name)), 1) for name in COMMANDS])
            if self.cfg.homeassistant:
                client.subscribe(ha.status_topic(self.cfg.homeassistant_prefix), 1)
                self._publish_discovery()
            if self._health is not None:
                self._send(HEALTH, self._health_payload(self._health), qos=1, retain=True)
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
        """Called with paho's lock held: only note the acknowledged row for the pump (no disk I/O here)."""
        try:
            with self._mid_lock:
                entry = self._handed.pop(mid, None)
                if entry is not None:
                    self._acked.append(entry[0])
                elif self._early is not None:  # the pump's publish() has not returned this mid yet
                    self._early.add(mid)
            if entry is not None:
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
            if msg.topic == self.topic(command_topic(name)) and name in COMMANDS:
                self.commands.receive(name, msg.payload, bool(msg.retain))
        except Exception:
            log.exception("MQTT message on %r failed", msg.topic)

    def _publish_discovery(self) -> None:
        prefix = self.cfg.homeassistant_prefix
        payload = ha.discovery_payload(self.device_id, self.base, self.sw_version)
        self.client.publish(ha.discovery_topic(prefix, self.device_id), encode(payload), qos=1, retain=True)

    def _publish_result(self, result: dict[str, Any], qos: int) -> None:
        """A command's result (from any thread: paho's publish is thread-safe)."""
        self._send(CMD_RESULT, encode(result), qos=qos, retain=False)


def _closing_step(what: str, step: Callable[[], object]) -> None:
    closing_step(log, "MQTT", what, step)

"""A real mosquitto broker on a free loopback port, stopped and restarted on demand (same port), for the tests
(tests/mosquitto.py) and the tools (tools/soak.py, tools/bench_alert_latency.py).

Needs the `mosquitto` binary (Debian: `apt-get install -y mosquitto`). Started as root it drops to the `mosquitto`
user after reading its config; by default it writes nothing (persistence off, log to stderr). `Subscriber` is a
client that records every message it receives.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def available() -> bool:
    return Path(MOSQUITTO).is_file()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop_process(proc: subprocess.Popen[Any], sig: int, timeout: float) -> None:
    """Send `sig` and wait; SIGKILL if it has not exited within `timeout` seconds."""
    proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)


class Mosquitto:
    host = "127.0.0.1"

    def __init__(self, port: int | None = None, persistence: bool = False, anonymous: bool = True, extra: str = "",
                 tail: str = ""):
        """`persistence`: keep sessions and queued messages across a restart (a clean stop saves them), so a
        persistent-session subscriber misses nothing that was published while it reconnected. `extra`: more
        listener options (TLS files, password_file), written right after the listener line. `tail`: written last
        (a bridge's `connection` section, whose options run to the end of the file)."""
        self.port = port or free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="dms-mosquitto-"))
        # Root mosquitto drops to the `mosquitto` user: the folder must be readable, and writable for persistence.
        self.dir.chmod(0o777 if persistence else 0o755)
        self.conf = self.dir / "mosquitto.conf"
        self.conf.write_text(
            f"listener {self.port} {self.host}\n"
            + extra
            + f"allow_anonymous {'true' if anonymous else 'false'}\n"
            "set_tcp_nodelay true\n"
            + (f"persistence true\npersistence_location {self.dir}/\n" if persistence else "persistence false\n")
            + "log_dest stderr\n"
            "log_type error\n"
            "log_type warning\n"
            + tail
        )
        self.conf.chmod(0o644)
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = self.dir / "mosquitto.log"

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> None:
        assert self.proc is None, "already running"
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited with {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            try:
                socket.create_connection((self.host, self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise TimeoutError(f"mosquitto did not listen on {self.host}:{self.port} within {timeout} s")

    def stop(self, timeout: float = 5.0) -> None:
        if self.proc is not None:
            stop_process(self.proc, signal.SIGTERM, timeout)
            self.proc = None

    def pause(self) -> None:
        """SIGSTOP: the broker keeps its connections but answers nothing (no PUBACK) until `resume`."""
        assert self.proc is not None, "not running"
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None, "not running"
        self.proc.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL (also of a paused broker): it saves nothing, clients see their connection reset."""
        if self.proc is None:
            return
        self.proc.kill()
        self.proc.wait(10)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class Subscriber:
    """Records (topic, payload bytes, retain) of everything under `topics`; reconnects fast and re-subscribes.

    `persistent`: a fixed client id with clean_session False, so the broker queues QoS 1 messages while it is away.
    """

    def __init__(self, broker: Mosquitto, topics: list[str], client_id: str | None = None, persistent: bool = False):
        self.messages: list[tuple[str, bytes, bool]] = []
        self._cond = threading.Condition()
        self._topics = topics
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id or f"test-{free_port()}", clean_session=not persistent
        )
        self.client.reconnect_delay_set(0.05, 0.1)  # type: ignore[arg-type]
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self._subscribed = threading.Event()
        self.client.connect_async(broker.host, broker.port, keepalive=10)
        self.client.loop_start()
        assert self._subscribed.wait(10), "test subscriber did not subscribe"

    def _on_connect(self, client: paho.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if not reason.is_failure:
            client.subscribe([(t, 1) for t in self._topics])

    def _on_subscribe(self, client: paho.Client, userdata: Any, mid: int, reasons: Any, properties: Any) -> None:
        self._subscribed.set()

    def _on_message(self, client: paho.Client, userdata: Any, msg: paho.MQTTMessage) -> None:
        with self._cond:
            self.messages.append((msg.topic, bytes(msg.payload), bool(msg.retain)))
            self._cond.notify_all()

    def wait_for(self, predicate: Callable[[list[tuple[str, bytes, bool]]], bool], timeout: float = 10.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: predicate(self.messages), timeout)

    def since(self, start: int) -> list[tuple[str, bytes, bool]]:
        """The messages from index `start` on: a reader that follows the stream takes only what is new."""
        with self._cond:
            return self.messages[start:]

    def on(self, topic: str) -> list[bytes]:
        with self._cond:
            return [p for t, p, _ in self.messages if t == topic]

    def publish(self, topic: str, payload: bytes | str, qos: int = 1, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=qos, retain=retain).wait_for_publish(5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

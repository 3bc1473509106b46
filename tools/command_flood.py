#!/usr/bin/env python3
"""Commands never delay alerts: `dms run` on a looping clip while a client floods it with cmd/ack.

    .venv/bin/python tools/command_flood.py [--video CLIP] [--mqtt mqtt://HOST:PORT] [--rate 1000] [--seconds 10]

Starts `dms run` (a subprocess, as systemd would) with the clip as its looping camera, waits for its first alert
event, then publishes `--rate` cmd/ack per second at QoS 1 for `--seconds`, and sends SIGTERM right after. Measures,
from a subscriber on the same broker:
- each alert event's delay from the frame that raised it (the event's `wall_t`) to its arrival: p50/p99/max;
- state messages per second during the flood, against `state.state_hz`;
- the command results by outcome (ran, "rate limited", "busy"), and the commands that got no answer;
- the time from SIGTERM to the daemon's exit, and its exit status.
Without --mqtt a mosquitto is started on a free loopback port (tests/mosquitto.py). Prints a summary and, last,
one JSON line. tests/integration/test_command_flood.py runs it and holds it to docs/mqtt.md's numbers.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import paho.mqtt.client as paho  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402

from edge.config import Config  # noqa: E402
from edge.demo import clip_path  # noqa: E402

DEVICE = "flood-test"


@dataclass
class FloodReport:
    commands_sent: int
    results: dict[str, int]  # by outcome: ran, rate limited, busy
    unanswered: int
    events: int  # alert events that arrived during the flood (and the second after it)
    event_p50_ms: float | None
    event_p99_ms: float | None
    event_max_ms: float | None
    state_hz: float  # state messages per second during the flood
    state_hz_configured: float
    stop_s: float  # SIGTERM to exit
    exit_code: int | None  # None: killed after `stop_timeout_s`


class _Recorder:
    """Every message under dms/DEVICE/#, with its arrival wall time."""

    def __init__(self, host: str, port: int):
        self.messages: list[tuple[float, str, bytes]] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self._client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"{DEVICE}-subscriber")
        self._client.on_message = self._on_message
        self._client.on_subscribe = lambda *_: self._subscribed.set()
        self._client.connect(host, port)
        self._client.subscribe(f"dms/{DEVICE}/#", qos=1)
        self._client.loop_start()
        if not self._subscribed.wait(10):
            raise RuntimeError("the subscriber could not subscribe")

    def _on_message(self, client: paho.Client, userdata: Any, msg: paho.MQTTMessage) -> None:
        with self._lock:
            self.messages.append((time.time(), msg.topic, bytes(msg.payload)))

    def on(self, rel: str) -> list[tuple[float, bytes]]:
        with self._lock:
            return [(at, p) for at, t, p in self.messages if t == f"dms/{DEVICE}/{rel}"]

    def wait_for(self, rel: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.on(rel):
                return True
            time.sleep(0.02)
        return False

    def close(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()


def _flood(host: str, port: int, rate: float, seconds: float) -> int:
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"{DEVICE}-flooder")
    client.connect(host, port)
    client.loop_start()
    topic, sent, start = f"dms/{DEVICE}/cmd/ack", 0, time.monotonic()
    try:
        while (elapsed := time.monotonic() - start) < seconds:
            due = int(elapsed * rate) + 1
            while sent < due:
                client.publish(topic, json.dumps({"kind": "microsleep", "request_id": f"f{sent}"}), qos=1)
                sent += 1
            time.sleep(0.002)
    finally:
        client.loop_stop()
        client.disconnect()
    return sent


def _wall(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def _outcome(result: dict[str, Any]) -> str:
    """rate limited, busy (refused before running), or ran (whatever its answer: an ack may find no alert open)."""
    reason = "" if result.get("ok") else str(result.get("reason", ""))
    return next((r for r in ("rate limited", "busy") if reason.startswith(r)), "ran")


def run_flood(host: str, port: int, video: Path, workdir: Path, rate: float = 1000.0, seconds: float = 10.0,
              stop_timeout_s: float = 30.0) -> FloodReport:
    cfg_path = workdir / "dms.toml"
    cfg_path.write_text(f'device_id = "{DEVICE}"\n[mqtt]\nenabled = true\nhost = "{host}"\nport = {port}\n'
                        f'outbox_path = "{workdir / "outbox.sqlite"}"\nhomeassistant = false\n')
    recorder = _Recorder(host, port)
    stderr = (workdir / "dms.stderr").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "edge.cli", "run", "--config", str(cfg_path), "--camera",
                             str(video)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        if not recorder.wait_for("events", 90):
            raise RuntimeError(f"no alert event from dms run within 90 s; see {workdir / 'dms.stderr'}")
        flood_start = time.time()
        sent = _flood(host, port, rate, seconds)
        flood_end = time.time()
        proc.send_signal(signal.SIGTERM)
        try:
            exit_code: int | None = proc.wait(stop_timeout_s)
        except subprocess.TimeoutExpired:
            exit_code = None
        stop_s = time.time() - flood_end
        time.sleep(0.5)  # the last results in flight (the daemon has exited: nothing new comes)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        stderr.close()
        recorder.close()

    delays = [(at - _wall(e["wall_t"])) * 1000.0 for at, e in ((at, json.loads(p)) for at, p in recorder.on("events"))
              if flood_start <= at <= flood_end + 1.0 and e.get("wall_t")]
    states = [at for at, _ in recorder.on("state") if flood_start <= at <= flood_end]
    results = [json.loads(p) for _, p in recorder.on("cmd/result")]
    flood_results = [r for r in results if str(r.get("request_id", "")).startswith("f")]
    answered = {r["request_id"] for r in flood_results}

    def pct(q: float) -> float | None:
        return round(float(np.percentile(delays, q)), 2) if delays else None

    return FloodReport(
        commands_sent=sent, results=dict(Counter(_outcome(r) for r in flood_results)),
        unanswered=sent - len(answered), events=len(delays), event_p50_ms=pct(50), event_p99_ms=pct(99),
        event_max_ms=round(max(delays), 2) if delays else None,
        state_hz=round(len(states) / max(flood_end - flood_start, 1e-9), 2),
        state_hz_configured=Config().state.state_hz, stop_s=round(stop_s, 2), exit_code=exit_code,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", type=Path, help="default: the demo clip WolfgangLanger_Pexels.mp4")
    parser.add_argument("--mqtt", help="mqtt://HOST:PORT of a broker; default: a mosquitto started here")
    parser.add_argument("--rate", type=float, default=1000.0, help="cmd/ack per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    video = args.video or clip_path("WolfgangLanger_Pexels.mp4")
    broker = None
    if args.mqtt:
        from edge.config.mqtt_url import with_mqtt_url

        mqtt = with_mqtt_url(Config(), args.mqtt, None).mqtt
        host, port = mqtt.host, mqtt.port
    else:
        from tests.mosquitto import Mosquitto

        broker = Mosquitto()
        broker.start()
        host, port = broker.host, broker.port
    try:
        with tempfile.TemporaryDirectory() as tmp:
            report = run_flood(host, port, video, Path(tmp), args.rate, args.seconds)
    finally:
        if broker is not None:
            broker.close()
    r = report
    print(f"{r.commands_sent} cmd/ack in {args.seconds:g} s: results {r.results}, {r.unanswered} unanswered")
    print(f"{r.events} alert events during the flood: frame to subscriber p50 {r.event_p50_ms} ms, p99 "
          f"{r.event_p99_ms} ms, max {r.event_max_ms} ms; state {r.state_hz} Hz (configured "
          f"{r.state_hz_configured:g}); SIGTERM to exit {r.stop_s} s (status {r.exit_code})")
    print(json.dumps(asdict(report)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

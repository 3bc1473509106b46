#!/usr/bin/env python3
"""Alert latency: from the frame that completes an alert condition to the event's arrival at an MQTT subscriber.

    .venv/bin/python tools/bench_alert_latency.py [--video CLIP] [--mqtt mqtt://HOST:PORT] [--repeat 6] [--pace 4]

For every frame the clock starts when the decoded frame is handed to the vision stage (a live camera hands it over
the same way), and stops when a subscriber on the same broker receives the event that frame produced: vision,
monitor, alert state machine, the durable outbox (one fsync per event), the broker and back. The clip is replayed
`--repeat` times at `--pace` times real time (idle gaps as in a car, not a CPU saturated by a flat-out replay).
Without --mqtt a mosquitto is started on a free loopback port (tools/mqtt_broker.py). Prints a summary and, last,
one JSON line: p50/p95/p99/max ms and the number of events.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import paho.mqtt.client as paho  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402

from edge.config import Config  # noqa: E402
from edge.demo import clip_path  # noqa: E402
from edge.runtime import configure_process  # noqa: E402
from edge.session import DriveSession, recorded_modalities  # noqa: E402
from edge.sinks.mqtt import MqttSink  # noqa: E402
from edge.sources.recording import open_replay  # noqa: E402
from edge.stats import StageTimer  # noqa: E402
from edge.vision.pipeline import VisionPipeline  # noqa: E402

DEVICE = "latency-bench"


class Receiver:
    """Records when each event (id, type, t) first arrives."""

    def __init__(self, host: str, port: int):
        self.arrived: dict[tuple, float] = {}
        self._lock = threading.Lock()
        self._client = paho.Client(CallbackAPIVersion.VERSION2, client_id="latency-bench-subscriber")
        self._client.on_message = self._on_message
        self._client.on_socket_open = lambda client, userdata, sock: _nodelay(sock)
        self._client.connect(host, port)
        self._client.subscribe(f"dms/{DEVICE}/events", qos=1)
        self._client.loop_start()

    def _on_message(self, client, userdata, msg) -> None:  # noqa: ANN001 - paho's callback signature
        now = time.perf_counter()
        p = json.loads(msg.payload)
        with self._lock:
            self.arrived.setdefault((p["id"], p["type"], p["t"]), now)

    def close(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()


def _nodelay(sock) -> None:  # noqa: ANN001
    import socket

    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", type=Path, help="default: the demo clip WolfgangLanger_Pexels.mp4")
    parser.add_argument("--mqtt", help="mqtt://HOST:PORT of a broker; default: a mosquitto started here")
    parser.add_argument("--repeat", type=int, default=6)
    parser.add_argument("--pace", type=float, default=4.0, help="replay pace: 1 is real time")
    args = parser.parse_args()

    cfg = Config()
    configure_process(cfg.runtime.opencv_threads)
    video = args.video or clip_path("WolfgangLanger_Pexels.mp4")
    with open_replay(video) as source:
        frames = list(source)
    broker = None
    if args.mqtt:
        from urllib.parse import urlsplit

        parts = urlsplit(args.mqtt)
        host, port = parts.hostname or "localhost", parts.port or 1883
    else:
        from mqtt_broker import Mosquitto

        broker = Mosquitto()
        broker.start()
        host, port = "127.0.0.1", broker.port
    receiver = Receiver(host, port)
    timer = StageTimer()
    pipeline = VisionPipeline.from_config(cfg, timer)
    sent: dict[tuple, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        mqtt = cfg.mqtt.model_copy(update={"host": host, "port": port, "outbox_path": Path(tmp) / "outbox.sqlite"})
        sink = MqttSink(mqtt, DEVICE)
        deadline = time.monotonic() + 10
        while not sink.connected and time.monotonic() < deadline:
            time.sleep(0.01)
        try:
            for rep in range(args.repeat):
                pipeline.reset()
                session = DriveSession(cfg, pipeline, recorded_modalities({}, timer), [sink], f"{DEVICE}-rep{rep}",
                                       timer)
                started, t0 = time.perf_counter(), frames[0].t
                for frame in frames:
                    wait = (frame.t - t0) / args.pace - (time.perf_counter() - started)
                    if wait > 0:
                        time.sleep(wait)
                    handed_over = time.perf_counter()
                    for event in session.frame(frame).events:  # published by the session as the daemon does
                        payload = event.payload()
                        sent[(payload["id"], payload["type"], payload["t"])] = handed_over
            deadline = time.monotonic() + 10
            while len(receiver.arrived) < len(sent) and time.monotonic() < deadline:
                time.sleep(0.01)
        finally:
            sink.close()
            receiver.close()
            if broker is not None:
                broker.close()

    latencies = np.array([(receiver.arrived[k] - t) * 1000.0 for k, t in sent.items() if k in receiver.arrived])
    lost = len(sent) - len(latencies)
    if not len(latencies):
        print("error: no event arrived", file=sys.stderr)
        return 1
    p50, p95, p99 = np.percentile(latencies, [50, 95, 99])
    print(f"{len(latencies)} events ({lost} lost) from {args.repeat} replays of {video.name} at {args.pace:g}x: "
          f"frame to subscriber p50 {p50:.2f} ms, p95 {p95:.2f} ms, p99 {p99:.2f} ms, max {latencies.max():.2f} ms")
    print(json.dumps({"events": int(len(latencies)), "lost": lost, "p50_ms": round(float(p50), 3),
                      "p95_ms": round(float(p95), 3), "p99_ms": round(float(p99), 3),
                      "max_ms": round(float(latencies.max()), 3)}))
    return 0 if lost == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

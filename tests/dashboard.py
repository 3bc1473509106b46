"""`dms dashboard` for tests: the real command in a subprocess (its own store, a fast-reconnecting MQTT session of
its own), plain HTTP over loopback, and an SSE client that records when each change arrived."""

from __future__ import annotations

import base64
import http.client
import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

from tests.mosquitto import Mosquitto, free_port
from tests.polling import wait_until

ROOT = Path(__file__).resolve().parents[1]


class Dashboard:
    def __init__(self, broker: Mosquitto, tmp: Path, *args: str, env: dict[str, str] | None = None,
                 password: str | None = None, mqtt_url: str | None = None, store: str | None = None):
        """`store`: a --store URL (default: a SQLite file in `tmp`)."""
        self.tmp = tmp
        self.store = store or str(tmp / "dashboard.sqlite")
        self.config = tmp / "dashboard.toml"
        if not self.config.exists():  # one client id per test: its broker session survives a dashboard restart
            self.config.write_text(f'[mqtt]\nclient_id = "dash-test-{free_port()}"\n'
                                   "reconnect_min_s = 0.05\nreconnect_max_s = 0.2\n")
        self.argv = [sys.executable, "-m", "edge.cli", "--log-level", "INFO", "dashboard", "--config",
                     str(self.config), "--mqtt", mqtt_url or broker.url, "--store", self.store,
                     "--listen", "127.0.0.1:0", *args]
        self.env = {"PATH": "/usr/bin:/bin", **(env or {})}
        self.password = password
        self.proc: subprocess.Popen[str] | None = None
        self.log: list[str] = []
        self.url = ""

    def start(self, timeout: float = 20.0) -> Dashboard:
        self.log = []
        self.proc = subprocess.Popen(self.argv, cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        threading.Thread(target=self._read_log, args=(self.proc,), daemon=True).start()
        assert wait_until(lambda: self.url or self.proc.poll() is not None, timeout), "dashboard did not start"
        assert self.proc.poll() is None, f"dashboard exited: {''.join(self.log)}"
        assert wait_until(lambda: any("MQTT: connected" in line for line in list(self.log)), timeout), self.log
        return self

    def _read_log(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            self.log.append(line)
            found = re.search(r"serving (http://[0-9.:]+)/", line)
            if found:
                self.url = found.group(1)

    def stop(self) -> int:
        if self.proc is None:
            return 0
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(20)
        self.proc, self.url = None, ""
        return rc

    def _headers(self, password: str | None) -> dict[str, str]:
        password = self.password if password is None else password
        if not password:
            return {}
        return {"Authorization": "Basic " + base64.b64encode(f"dms:{password}".encode()).decode()}

    def request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
                password: str | None = None) -> tuple[int, Any]:
        host, port = self.url.removeprefix("http://").rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        try:
            h = {**self._headers(password), **(headers or {})}
            data = None
            if body is not None:
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                h.setdefault("Content-Type", "application/json")
            conn.request(method, path, body=data, headers=h)
            resp = conn.getresponse()
            raw = resp.read()
            try:
                return resp.status, json.loads(raw)
            except ValueError:
                return resp.status, raw.decode(errors="replace")
        finally:
            conn.close()

    def get(self, path: str) -> Any:
        status, doc = self.request("GET", path)
        assert status == 200, (status, doc)
        return doc

    def stored(self, device: str | None = None) -> list[dict[str, Any]]:
        query = f"&device={device}" if device else ""
        return [e["event"] for e in self.get(f"/api/events?limit=1000{query}")["events"]]

    def sse(self) -> SseClient:
        return SseClient(self)

    def close(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)


class SseClient:
    """Reads /api/stream on a thread; `changes` holds (monotonic arrival time, parsed data)."""

    def __init__(self, dashboard: Dashboard):
        host, port = dashboard.url.removeprefix("http://").rsplit(":", 1)
        self.conn = http.client.HTTPConnection(host, int(port), timeout=60)
        self.conn.request("GET", "/api/stream", headers=dashboard._headers(None))
        self.response = self.conn.getresponse()
        assert self.response.status == 200, self.response.status
        self.changes: list[tuple[float, dict[str, Any]]] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()
        assert self.wait_for(lambda c: c["type"] == "snapshot"), "no snapshot on the stream"

    def _read(self) -> None:
        try:
            for line in iter(self.response.readline, b""):
                if line.startswith(b"data: "):
                    change = json.loads(line[6:])
                    with self._lock:
                        self.changes.append((time.monotonic(), change))
        except Exception:  # closed by the test, in any of http.client's states
            pass

    def all(self) -> list[dict[str, Any]]:
        with self._lock:
            return [c for _, c in self.changes]

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 10.0) -> dict[str, Any] | None:
        found: list[dict[str, Any]] = []

        def check() -> bool:
            found[:] = [c for c in self.all() if predicate(c)]
            return bool(found)

        return found[0] if wait_until(check, timeout, step=0.002) else None

    def arrival(self, predicate: Callable[[dict[str, Any]], bool]) -> float | None:
        with self._lock:
            return next((t for t, c in self.changes if predicate(c)), None)

    def close(self) -> None:
        sock = self.conn.sock
        try:
            if sock is not None:
                sock.shutdown(socket.SHUT_RDWR)  # wakes the reading thread
        except OSError:
            pass
        self.conn.close()

"""`dms run` as systemd runs it: a fake NOTIFY_SOCKET, a video file as the camera, a real mosquitto."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest

from tests import mosquitto

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "docs" / "schemas"

pytestmark = pytest.mark.skipif(not mosquitto.available(), reason="mosquitto is missing (apt-get install mosquitto)")


class FakeSystemd:
    """The receiving end of $NOTIFY_SOCKET: records every datagram with its arrival time.

    `wait_for` looks at what came after the last message it matched or `drain` returned, so two notifications
    that arrive together (RELOADING=1 and READY=1 of a quick reload) are both found, in order."""

    def __init__(self, path: Path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.05)
        self.messages: list[tuple[float, str]] = []
        self._seen = 0  # messages before this index are consumed

    def _receive(self, seconds: float) -> list[str]:
        got, end = [], time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                data = self.sock.recv(4096).decode()
            except TimeoutError:
                continue
            self.messages.append((time.monotonic(), data))
            got.append(data)
        return got

    def drain(self, seconds: float) -> list[str]:
        """Collect for `seconds`; returns what arrived in that time (and consumes everything so far)."""
        got = self._receive(seconds)
        self._seen = len(self.messages)
        return got

    def wait_for(self, text: str, timeout: float) -> bool:
        end = time.monotonic() + timeout
        while True:
            for i in range(self._seen, len(self.messages)):
                if text in self.messages[i][1]:
                    self._seen = i + 1
                    return True
            if time.monotonic() >= end:
                return False
            self._receive(0.1)

    def close(self) -> None:
        self.sock.close()


def write_config(tmp_path: Path, port: int) -> Path:
    cfg = tmp_path / "dms.toml"
    cfg.write_text(
        f"""device_id = "cab-7"
[mqtt]
enabled = true
host = "127.0.0.1"
port = {port}
outbox_path = "{tmp_path / 'outbox.sqlite'}"
stats_interval_s = 1.0
homeassistant = false
[distraction]
calibration_samples = 60  # the road-ahead pose is learned within seconds of the looping clip, however busy the CPU
"""
    )
    return cfg


def start_dms(tmp_path: Path, config: Path, camera: str, notify: Path, stall: Path, **hooks: str) -> subprocess.Popen:
    """`hooks`: more environment, e.g. DMS_TEST_CAMERA_STOP_FAILS (tests/integration/stallable_dms.py)."""
    env = {**os.environ, "NOTIFY_SOCKET": str(notify), "WATCHDOG_USEC": "400000", "DMS_TEST_STALL_FILE": str(stall),
           **hooks}
    env.pop("WATCHDOG_PID", None)
    return subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "integration" / "stallable_dms.py"), "run", "--config", str(config),
         "--camera", camera, "--jsonl", str(tmp_path / "run.jsonl")],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def outbox_rows(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]


def test_run_notifies_systemd_feeds_the_watchdog_and_stops_cleanly(clip, tmp_path):
    broker = mosquitto.Mosquitto()
    broker.start()
    sub = mosquitto.Subscriber(broker, ["dms/cab-7/#"])
    notify, stall = FakeSystemd(tmp_path / "notify.sock"), tmp_path / "stall"
    proc = start_dms(tmp_path, write_config(tmp_path, broker.port), str(clip("WolfgangLanger_Pexels.mp4")), notify.path,
                     stall)
    try:
        assert notify.wait_for("READY=1", timeout=30), proc.stderr.read() if proc.poll() is not None else "no READY"
        # the watchdog interval is half of WATCHDOG_USEC: 0.2 s
        assert sum("WATCHDOG=1" in m for m in notify.drain(1.5)) >= 4
        stall.touch()  # the vision stage hangs, and with it the session worker...
        notify.drain(0.5)  # (a ping already under way may still come)
        assert not any("WATCHDOG=1" in m for m in notify.drain(1.5))  # ...and systemd is no longer fed
        stall.unlink()
        assert notify.wait_for("WATCHDOG=1", timeout=5)  # the worker lives again
        # the clip starts with closed eyes: a microsleep alert is published through the outbox
        assert sub.wait_for(lambda m: any(t == "dms/cab-7/events" for t, _, _ in m), timeout=15)
        assert sub.wait_for(lambda m: any(t == "dms/cab-7/stats" for t, _, _ in m), timeout=5)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0, proc.stderr.read()
        assert any("STOPPING=1" in m for _, m in notify.messages) or notify.wait_for("STOPPING=1", 1)
    finally:
        if proc.poll() is None:
            proc.kill()
        notify.close()
    try:
        assert outbox_rows(tmp_path / "outbox.sqlite") == 0  # nothing left behind: every event acknowledged
        assert sub.on("dms/cab-7/availability")[-1] == b"stopped"
        events = [json.loads(p) for p in sub.on("dms/cab-7/events")]
        starts = {e["id"] for e in events if e["type"] == "start"}
        ends = {e["id"] for e in events if e["type"] == "end"}
        assert starts and starts <= ends  # SIGTERM ends every open alert: none is left hanging
        schemas = {name: json.loads((SCHEMAS / f"{name}.json").read_text()) for name in ("state", "health", "stats")}
        for name, schema in schemas.items():
            payloads = sub.on(f"dms/cab-7/{name}")
            assert payloads, name
            for raw in payloads:
                jsonschema.validate(json.loads(raw), schema)
        health = json.loads(sub.on("dms/cab-7/health")[-1])
        assert health["components"]["camera"]["state"] == "ok"
    finally:
        sub.close()
        broker.close()


def test_a_missing_camera_is_reported_not_taken_for_the_driver(tmp_path):
    """The camera device is not there: the daemon still starts (READY), health says the camera is unavailable,
    and the only alert is monitoring_degraded (camera), never driver_not_visible or distraction."""
    broker = mosquitto.Mosquitto()
    broker.start()
    sub = mosquitto.Subscriber(broker, ["dms/cab-7/#"])
    notify, stall = FakeSystemd(tmp_path / "notify.sock"), tmp_path / "stall"
    proc = start_dms(tmp_path, write_config(tmp_path, broker.port), str(tmp_path / "gone.mp4"), notify.path, stall)
    try:
        assert notify.wait_for("READY=1", timeout=30)
        assert sub.wait_for(
            lambda m: any(t == "dms/cab-7/health" and json.loads(p)["components"]["camera"]["state"] == "unavailable"
                          for t, p, _ in m), timeout=15)
        assert sum("WATCHDOG=1" in m for m in notify.drain(1.5)) >= 3  # the worker ticks: no restart loop
        time.sleep(6.0)  # longer than driver_not_visible_s
        proc.send_signal(signal.SIGTERM)
        try:
            assert proc.wait(timeout=20) == 0
        except subprocess.TimeoutExpired:
            proc.kill()
            pytest.fail("dms run did not stop on SIGTERM:\n" + proc.communicate()[1][-3000:])
    finally:
        if proc.poll() is None:
            proc.kill()
        notify.close()
    try:
        kinds = {json.loads(p)["kind"] for p in sub.on("dms/cab-7/events")}
        assert kinds == {"monitoring_degraded"}
        degraded = [json.loads(p) for p in sub.on("dms/cab-7/events") if json.loads(p)["type"] == "start"]
        assert degraded[0]["evidence"]["reason"] == "camera"
    finally:
        sub.close()
        broker.close()


def test_reload_refuses_a_bad_config_and_applies_a_good_one(clip, tmp_path):
    broker = mosquitto.Mosquitto()
    broker.start()
    sub = mosquitto.Subscriber(broker, ["dms/cab-7/health", "dms/cab-7/cmd/result"])
    config = write_config(tmp_path, broker.port)
    good = config.read_text()
    notify, stall = FakeSystemd(tmp_path / "notify.sock"), tmp_path / "stall"
    proc = start_dms(tmp_path, config, str(clip("WolfgangLanger_Pexels.mp4")), notify.path, stall)

    def config_component() -> dict | None:
        return json.loads(sub.on("dms/cab-7/health")[-1])["components"].get("config")

    try:
        assert notify.wait_for("READY=1", timeout=30)
        config.write_text(good + "[vision]\nmax_pose_deg = 500\n")
        proc.send_signal(signal.SIGHUP)
        assert sub.wait_for(lambda m: m and config_component() is not None, timeout=10)
        assert "vision.max_pose_deg" in config_component()["detail"] and proc.poll() is None  # still running
        # cmd/reload of an absurd value: refused with the key, the limit and its reason; the daemon runs on.
        config.write_text(good + "[camera]\nwidth = 100000000000000000000000\n")
        sub.publish("dms/cab-7/cmd/reload", json.dumps({"request_id": "absurd"}))
        assert sub.wait_for(lambda m: sub.on("dms/cab-7/cmd/result"), timeout=20)
        result = json.loads(sub.on("dms/cab-7/cmd/result")[0])
        assert result["ok"] is False and result["request_id"] == "absurd", result
        assert "camera.width: 100000000000000000000000 is above 7680 (8K UHD" in result["reason"], result
        # An integer Python refuses to read (over 4300 digits) is refused the same way, not raised in the main loop.
        config.write_text(good + "[camera]\nwidth = " + "9" * 5000 + "\n")
        sub.publish("dms/cab-7/cmd/reload", json.dumps({"request_id": "digits"}))
        assert sub.wait_for(lambda m: len(sub.on("dms/cab-7/cmd/result")) == 2, timeout=20)
        result = json.loads(sub.on("dms/cab-7/cmd/result")[1])
        assert result["ok"] is False and "5000 digits is too long to read" in result["reason"], result
        assert proc.poll() is None
        config.write_text(good.replace("stats_interval_s = 1.0", "stats_interval_s = 2.0"))
        proc.send_signal(signal.SIGHUP)
        assert notify.wait_for("RELOADING=1", timeout=10) and notify.wait_for("READY=1", timeout=30)
        assert sub.wait_for(lambda m: config_component() is None, timeout=10)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        notify.close()
        sub.close()
        broker.close()


def test_cmd_reload_of_the_mqtt_section_keeps_what_was_learned_about_the_driver(clip, tmp_path):
    """cmd/reload runs off the MQTT thread and answers when done: a change of [mqtt] alone reconnects the broker
    link, keeps the learned road-ahead head pose (and the camera running), and the result says so."""
    broker = mosquitto.Mosquitto()
    broker.start()
    sub = mosquitto.Subscriber(broker, ["dms/cab-7/state", "dms/cab-7/cmd/result"])
    config = write_config(tmp_path, broker.port)
    good = config.read_text()
    notify, stall = FakeSystemd(tmp_path / "notify.sock"), tmp_path / "stall"
    proc = start_dms(tmp_path, config, str(clip("WolfgangLanger_Pexels.mp4")), notify.path, stall)

    def states() -> list[dict]:
        return [json.loads(p) for p in sub.on("dms/cab-7/state")]

    def calibrated(state: dict) -> bool:
        return state["distraction"]["calibration"]["status"] == "calibrated"

    try:
        assert notify.wait_for("READY=1", timeout=30)
        assert sub.wait_for(lambda m: any(calibrated(s) for s in states()), timeout=30)
        config.write_text(good.replace("stats_interval_s = 1.0", "stats_interval_s = 2.0"))
        learned_at = len(states())
        sub.publish("dms/cab-7/cmd/reload", json.dumps({"request_id": "r1"}))
        assert sub.wait_for(lambda m: sub.on("dms/cab-7/cmd/result"), timeout=20)
        result = json.loads(sub.on("dms/cab-7/cmd/result")[0])
        jsonschema.validate(result, json.loads((SCHEMAS / "cmd_result.json").read_text()))
        assert result["ok"] is True and result["request_id"] == "r1", result
        assert result["changed"] == ["mqtt"] and result["restarted"] == ["mqtt"] and result["forgotten"] == []
        assert "kept" in result["reason"]
        assert sub.wait_for(lambda m: len(states()) >= learned_at + 4, timeout=20)  # through the new connection
        assert all(calibrated(s) for s in states()[learned_at:])
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        notify.close()
        sub.close()
        broker.close()


def test_a_broker_down_at_start_gets_every_event_once_it_is_up(clip, tmp_path):
    broker = mosquitto.Mosquitto()  # not started yet
    notify, stall = FakeSystemd(tmp_path / "notify.sock"), tmp_path / "stall"
    proc = start_dms(tmp_path, write_config(tmp_path, broker.port), str(clip("WolfgangLanger_Pexels.mp4")),
                     notify.path, stall)
    try:
        assert notify.wait_for("READY=1", timeout=30)  # monitoring does not wait for the network
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not (tmp_path / "outbox.sqlite").exists():
            time.sleep(0.1)
        assert notify.wait_for("WATCHDOG=1", timeout=5)
        time.sleep(3.0)  # the clip's closed eyes raise alerts while the broker is down
        assert outbox_rows(tmp_path / "outbox.sqlite") > 0
        broker.start()
        sub = mosquitto.Subscriber(broker, ["dms/cab-7/#"])
        assert sub.wait_for(lambda m: any(t == "dms/cab-7/events" for t, _, _ in m), timeout=30)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        assert outbox_rows(tmp_path / "outbox.sqlite") == 0
        sub.close()
    finally:
        if proc.poll() is None:
            proc.kill()
        notify.close()
        broker.close()


def test_record_needs_recording_enabled_and_writes_a_replayable_drive(clip, tmp_path):
    def dms(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "edge.cli", *args], cwd=ROOT, capture_output=True, text=True)

    off = tmp_path / "off.toml"
    off.write_text("")
    proc = dms("record", "--config", str(off), "--out", str(tmp_path / "drive"), "--camera",
               str(clip("face_noface.mov")), "--seconds", "2")
    assert proc.returncode == 2 and "recording is disabled" in proc.stderr and not (tmp_path / "drive").exists()
    on = tmp_path / "on.toml"
    on.write_text("[recording]\nenabled = true\n")
    proc = dms("record", "--config", str(on), "--out", str(tmp_path / "drive"), "--camera",
               str(clip("face_noface.mov")), "--seconds", "2")
    assert proc.returncode == 0, proc.stderr
    from edge.sources.recording import open_replay

    with open_replay(tmp_path / "drive") as source:
        times = [f.t for f in source]
    assert len(times) >= 20 and times[0] == 0.0 and all(b > a for a, b in zip(times, times[1:]))
    assert times[-1] < 2.5  # about two seconds of a camera paced at the clip's ~26 fps


def test_the_serial_port_vanishes_and_comes_back(clip, tmp_path):
    """A physiology sensor on a socat pty: its samples reach the physiology stage, whose estimates are in the
    state. Its port disappears (cable, USB reset) while dms runs. Health says so, the watchdog keeps being fed,
    monitoring is reported degraded (never a driver state), and the sensor is back when the port is."""
    import shutil
    import threading

    from tests.integration.test_serial_pty import PtyPair, Writer, line

    if shutil.which("socat") is None:
        pytest.skip("needs socat (apt-get install socat)")
    broker = mosquitto.Mosquitto()
    broker.start()
    sub = mosquitto.Subscriber(broker, ["dms/cab-7/#"])
    pty = PtyPair(tmp_path)
    pty.start()
    writing = threading.Event()
    writing.set()

    def feed() -> None:  # a sensor at 100 Hz on the other end of the pty
        writer, seq = Writer(pty.a), 0
        while writing.is_set():
            writer.write(line(seq))
            seq += 1
            time.sleep(0.01)
        writer.close()

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    config = write_config(tmp_path, broker.port)
    config.write_text(config.read_text() + f'[serial]\nport = "{pty.b}"\n')
    notify, stall = FakeSystemd(tmp_path / "notify.sock"), tmp_path / "stall"
    proc = start_dms(tmp_path, config, str(clip("WolfgangLanger_Pexels.mp4")), notify.path, stall)

    def serial_state() -> str | None:
        payloads = sub.on("dms/cab-7/health")
        return json.loads(payloads[-1])["components"]["serial"]["state"] if payloads else None

    try:
        assert notify.wait_for("READY=1", timeout=30)
        assert sub.wait_for(lambda m: serial_state() == "ok", timeout=15)

        def physio_estimated(messages) -> bool:  # noqa: ANN001
            # the sensor sends a ramp, not an ECG: an estimate that finds no heart beat (physio.hop_s after start)
            return any(json.loads(p)["physio"]["reason"] in ("no_signal", "baseline")
                       for p in sub.on("dms/cab-7/state"))

        assert sub.wait_for(physio_estimated, timeout=15)
        models = json.loads(sub.on("dms/cab-7/health")[-1])["components"]["models"]
        assert models["state"] == "ok" and models["detail"] is None  # the stress model loaded
        pty.stop()  # the port is gone
        assert sub.wait_for(lambda m: serial_state() == "unavailable", timeout=15)
        assert sum("WATCHDOG=1" in m for m in notify.drain(1.0)) >= 3  # vision goes on: no restart
        def degraded_by_serial(messages) -> bool:  # noqa: ANN001
            return any(t == "dms/cab-7/events/monitoring_degraded" and json.loads(p)["evidence"]["reason"] == "serial"
                       for t, p, _ in messages)

        assert sub.wait_for(degraded_by_serial, timeout=10)
        pty.start()  # the port is back
        assert sub.wait_for(lambda m: serial_state() == "ok", timeout=15)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        writing.clear()
        if proc.poll() is None:
            proc.kill()
        pty.stop()
        notify.close()
        sub.close()
        broker.close()


def test_audio_enabled_without_a_sound_device_keeps_running_and_says_why(clip, tmp_path):
    """This machine has no sound card: with [audio] enabled the daemon starts, health names the audio fault, the
    voice is `no_audio`, monitoring is reported degraded by audio, and vision goes on."""
    pytest.importorskip("pyaudio", reason="the audio extra: pip install '.[audio]'")
    broker = mosquitto.Mosquitto()
    broker.start()
    sub = mosquitto.Subscriber(broker, ["dms/cab-7/#"])
    config = write_config(tmp_path, broker.port)
    config.write_text(config.read_text() + "[audio]\nenabled = true\nreopen_initial_s = 0.2\nreopen_max_s = 0.5\n")
    notify, stall = FakeSystemd(tmp_path / "notify.sock"), tmp_path / "stall"
    proc = start_dms(tmp_path, config, str(clip("WolfgangLanger_Pexels.mp4")), notify.path, stall)

    def audio_health() -> dict | None:
        payloads = sub.on("dms/cab-7/health")
        return json.loads(payloads[-1])["components"]["audio"] if payloads else None

    try:
        assert notify.wait_for("READY=1", timeout=30), proc.stderr.read() if proc.poll() is not None else "no READY"
        assert sub.wait_for(lambda m: (audio_health() or {}).get("state") == "unavailable", timeout=15)
        assert audio_health()["detail"]  # the reason, e.g. no input device
        assert sum("WATCHDOG=1" in m for m in notify.drain(1.0)) >= 3

        def degraded_by_audio(messages) -> bool:  # noqa: ANN001
            return any(t == "dms/cab-7/events/monitoring_degraded" and json.loads(p)["evidence"]["reason"] == "audio"
                       for t, p, _ in messages)

        assert sub.wait_for(degraded_by_audio, timeout=15)
        voice = json.loads(sub.on("dms/cab-7/state")[-1])["voice"]
        assert voice["reason"] == "no_audio" and voice["arousal"] is None
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
        notify.close()
        sub.close()
        broker.close()

"""The live speed sources against real counterparts: a real mosquitto broker, a real gpsd fed NMEA by gpsfake,
and python-OBD talking to an ELM327 responder over a socat pty pair. Bad input is counted and skipped; a source
whose counterpart dies is reported unavailable and comes back by itself."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
import time
from functools import reduce
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge.config import Config, MqttConfig, SpeedConfig
from edge.modalities.speed import SPEED
from edge.sources.speed_gpsd import GpsdSpeedSource
from edge.sources.speed_mqtt import MqttSpeedSource
from edge.sources.speed_obd import ObdSpeedSource
from edge.stats import StageTimer
from tests import mosquitto
from tests.integration.test_serial_pty import PtyPair
from tests.polling import wait_until

FAST = {"reopen_initial_s": 0.1, "reopen_max_s": 0.3}


def reading(src, kmh: float, tol: float = 0.05) -> bool:
    r = src.latest()
    return r is not None and abs(r.speed_kmh - kmh) <= tol


# -- MQTT ----------------------------------------------------------------------------------------------------------


@pytest.mark.skipif(not mosquitto.available(), reason="needs mosquitto (apt-get install mosquitto)")
def test_mqtt_speed_numbers_and_objects_bad_payloads_counted_and_a_broker_restart_survived():
    broker = mosquitto.Mosquitto()
    broker.start()
    cfg = SpeedConfig(source="mqtt", **FAST)
    src = MqttSpeedSource(cfg, MqttConfig(host=broker.host, port=broker.port), "car").start()
    pub = paho.Client(CallbackAPIVersion.VERSION2, client_id="speed-publisher")
    try:
        assert src.topic == "dms/car/vehicle/speed"
        assert wait_until(lambda: src.health().state == "starting" and src._open, 10.0)  # subscribed
        pub.reconnect_delay_set(0.05, 0.2)
        pub.connect(broker.host, broker.port)
        pub.loop_start()
        assert wait_until(pub.is_connected)

        def send(payload: bytes | str) -> None:
            pub.publish(src.topic, payload, qos=1).wait_for_publish(5)

        send("42.5")
        assert wait_until(lambda: reading(src, 42.5))
        send(json.dumps({"speed_kmh": 12, "ts": time.time() - 1.0}))
        assert wait_until(lambda: reading(src, 12.0))
        assert time.monotonic() - src.latest().t >= 1.0  # aged by its own time stamp
        for bad in ("fast", '{"kmh": 3}', "-5", "1e9", '{"speed_kmh": true}', '{"speed_kmh": 3, "ts": "now"}'):
            send(bad)
        assert wait_until(lambda: src.health().metrics["bad"] == 6)
        assert src.health().state == "ok" and reading(src, 12.0)  # bad input changes nothing else

        broker.kill()
        assert wait_until(lambda: src.health().state == "unavailable", 10.0)
        broker.start()
        assert wait_until(lambda: src.health().state in ("ok", "starting") and src._open, 15.0)
        assert wait_until(pub.is_connected)
        send("30")
        assert wait_until(lambda: reading(src, 30.0))
        assert src.health().reopens >= 1
    finally:
        pub.loop_stop()
        src.stop()
        broker.close()


# -- gpsd ----------------------------------------------------------------------------------------------------------


def nmea(body: str) -> str:
    return f"${body}*{reduce(lambda a, c: a ^ ord(c), body, 0):02X}\r\n"


def nmea_log(path: Path, knots: float, seconds: int = 30) -> Path:
    """A receiver at rest-free cruise: GGA (the fix) and RMC (ground speed in knots) once a second."""
    lines = []
    for i in range(seconds):
        hms = f"12{i // 60:02d}{i % 60:02d}.00"
        lines.append(nmea(f"GPGGA,{hms},4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,"))
        lines.append(nmea(f"GPRMC,{hms},A,4807.038,N,01131.000,E,{knots:.1f},084.4,230394,003.1,W,A"))
    path.write_text("".join(lines))
    return path


class GpsFake:
    """gpsfake: a real gpsd on a free port, fed the log over a pty, cycled until stopped."""

    def __init__(self, log: Path, port: int):
        self.log, self.port = log, port
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        # Its own session, so stop() ends gpsfake and the gpsd it started, and nothing else.
        self.proc = subprocess.Popen(["gpsfake", "-q", "-P", str(self.port), "-c", "0.05", str(self.log)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(10)
        self.proc = None


@pytest.mark.skipif(shutil.which("gpsfake") is None, reason="needs gpsfake (apt-get install gpsd gpsd-clients)")
def test_gpsd_speed_from_a_real_gpsd_and_reconnect_after_it_dies(tmp_path):
    port = mosquitto.free_port()
    fake = GpsFake(nmea_log(tmp_path / "drive.nmea", knots=27.0), port)  # 27 kn = 50.0 km/h
    fake.start()
    src = GpsdSpeedSource(SpeedConfig(source="gpsd", gpsd_port=port, silent_after_s=2.0, **FAST)).start()
    try:
        assert wait_until(lambda: reading(src, 50.0, tol=0.1), 20.0), src.health()
        assert src.health().state == "ok"
        fake.stop()
        assert wait_until(lambda: src.health().state == "unavailable", 10.0)
        fake.start()
        assert wait_until(lambda: src.health().state == "ok" and src.health().reopens >= 1, 20.0), src.health()
    finally:
        src.stop()
        fake.stop()


# -- OBD-II (ELM327) -------------------------------------------------------------------------------------------------


class Elm327:
    """Answers as an ELM327 on a CAN car (protocol 6, headers on) would: the AT set-up, 0100 (PID 0x0D among the
    supported ones) and 010D with `speed` km/h, or `answer` verbatim when set (a garbled frame, NO DATA)."""

    def __init__(self, path: Path):
        self.path = path
        self.speed = 0
        self.answer: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def respond(self, command: str) -> str:
        if command == "ATZ":
            return "\r\rELM327 v1.5"
        if command in ("ATRV", "AT RV"):
            return "12.6V"
        if command == "ATDPN":
            return "A6"
        if command.startswith("AT"):
            return "OK"
        if command == "0100":
            return "7E8 06 41 00 BE 3F A8 13 "
        if command.startswith("010D"):
            return self.answer if self.answer is not None else f"7E8 03 41 0D {self.speed:02X} "
        return "?" if "\x7f" in command else "NO DATA"

    def _run(self) -> None:
        fd: int | None = None
        buffer = b""
        while not self._stop.is_set():
            try:
                if fd is None:
                    fd = os.open(self.path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
                data = os.read(fd, 256)
                if not data:
                    raise OSError("end of file")
            except BlockingIOError:
                time.sleep(0.005)
                continue
            except OSError:  # socat is gone (or not back yet)
                if fd is not None:
                    os.close(fd)
                fd, buffer = None, b""
                time.sleep(0.02)
                continue
            buffer += data
            while b"\r" in buffer:
                line, buffer = buffer.split(b"\r", 1)
                command = line.decode("ascii", "replace").strip().upper()
                if command:
                    os.write(fd, (self.respond(command) + "\r\r>").encode())
        if fd is not None:
            os.close(fd)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)


@pytest.mark.skipif(shutil.which("socat") is None, reason="needs socat (apt-get install socat)")
def test_obd_speed_from_an_elm327_bad_answers_counted_and_a_vanished_port_reopened(tmp_path):
    pty = PtyPair(tmp_path)
    pty.start()
    elm = Elm327(pty.a)
    cfg = SpeedConfig(source="obd", obd_port=str(pty.b), obd_baudrate=38400, obd_protocol="6", obd_poll_hz=20.0,
                      silent_after_s=1.0, **FAST)
    src = ObdSpeedSource(cfg).start()
    try:
        elm.speed = 88
        assert wait_until(lambda: reading(src, 88.0), 20.0), src.health()
        assert src.health().state == "ok"
        elm.answer = "7E8 03 41 0D"  # a frame cut short: no speed byte
        assert wait_until(lambda: src.health().metrics["bad"] >= 3)
        assert reading(src, 88.0)  # the last good reading stands (its age tells how old it is)
        elm.answer, elm.speed = None, 0
        assert wait_until(lambda: reading(src, 0.0))
        pty.stop()  # the adapter is unplugged
        assert wait_until(lambda: src.health().state in ("unavailable", "silent"), 15.0)
        pty.start()
        elm.speed = 20
        assert wait_until(lambda: reading(src, 20.0) and src.health().state == "ok", 30.0), src.health()
    finally:
        src.stop()
        elm.close()
        pty.stop()


def test_a_missing_speed_library_is_reported_as_the_source_problem(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def without_obd(name, *args, **kwargs):
        if name == "obd":
            raise ImportError("No module named 'obd'", name="obd")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_obd)
    modality = SPEED.live(Config(speed=SpeedConfig(source="obd", obd_port="/dev/null")), StageTimer())
    assert modality.health()["state"] == "unavailable" and "edge-dms[vehicle]" in modality.health()["detail"]
    assert not modality.faulty()  # speed is context: its fault does not degrade driver monitoring

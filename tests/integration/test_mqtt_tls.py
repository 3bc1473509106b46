"""The MQTT link as a fleet would run it: TLS with the project's CA and a username/password, the password from
systemd's $CREDENTIALS_DIRECTORY (never from the config, never in the logs), against a real mosquitto."""

from __future__ import annotations

import json
import logging
import shutil
import ssl
import subprocess
import tempfile
import threading
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge.config import MqttConfig
from edge.sinks.mqtt import MqttSink
from tests import mosquitto
from tests.integration.test_mqtt import event, wait_until

pytestmark = pytest.mark.skipif(not mosquitto.available(), reason="mosquitto is missing (apt-get install mosquitto)")

PASSWORD = "s3cret-never-logged"


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def tls_broker():
    """A CA, a server certificate for 127.0.0.1, a password file, and a TLS-only broker that wants a password.
    In a folder of its own under /tmp: root mosquitto drops to its user, which cannot enter pytest's 0700 tmp."""
    d = Path(tempfile.mkdtemp(prefix="dms-pki-"))
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test CA",
             "-keyout", "ca.key", "-out", "ca.pem", cwd=d)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "server.key",
             "-out", "server.csr", cwd=d)
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
             "-days", "2", "-extfile", "san.ext", "-out", "server.pem", cwd=d)
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(d / "passwd"), "dms", PASSWORD], check=True)
    d.chmod(0o755)
    for f in d.iterdir():
        f.chmod(0o644)  # root mosquitto drops to its own user, which must read them
    broker = mosquitto.Mosquitto(
        anonymous=False,
        extra=f"cafile {d / 'ca.pem'}\ncertfile {d / 'server.pem'}\nkeyfile {d / 'server.key'}\n"
        f"password_file {d / 'passwd'}\n",
    )
    broker.start()
    yield broker, d / "ca.pem"
    broker.close()
    shutil.rmtree(d, ignore_errors=True)


def _sink(broker, ca: Path, creds: Path, monkeypatch) -> MqttSink:
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    monkeypatch.delenv("DMS_MQTT_PASSWORD", raising=False)
    cfg = MqttConfig(host="127.0.0.1", port=broker.port, tls=True, ca_file=ca, username="dms",
                     outbox_path=creds.parent / "outbox.sqlite", homeassistant=False, reconnect_max_s=1.0)
    return MqttSink(cfg, "tls-car")


def test_tls_and_a_credential_password(tls_broker, tmp_path, monkeypatch, caplog):
    broker, ca = tls_broker
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "mqtt-password").write_text(PASSWORD + "\n")
    received, got = [], threading.Event()
    sub = paho.Client(CallbackAPIVersion.VERSION2, client_id="tls-dashboard")
    sub.tls_set(ca_certs=str(ca), tls_version=ssl.PROTOCOL_TLS_CLIENT)
    sub.username_pw_set("dms", PASSWORD)
    sub.on_connect = lambda c, u, f, r, p: c.subscribe("dms/tls-car/events", qos=1)
    sub.on_message = lambda c, u, m: (received.append(json.loads(m.payload)), got.set())
    sub.connect("127.0.0.1", broker.port)
    sub.loop_start()
    caplog.set_level(logging.DEBUG)
    sink = _sink(broker, ca, creds, monkeypatch)
    try:
        assert wait_until(lambda: sink.connected, timeout=10)
        sink.publish("events", event(1))
        assert got.wait(10) and received[0]["id"] == event(1)["id"]
    finally:
        sink.close()
        sub.loop_stop()
        sub.disconnect()
    assert PASSWORD not in caplog.text


def test_a_wrong_password_is_refused_and_never_logged(tls_broker, tmp_path, monkeypatch, caplog):
    broker, ca = tls_broker
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "mqtt-password").write_text("wrong-" + PASSWORD)
    caplog.set_level(logging.DEBUG)
    sink = _sink(broker, ca, creds, monkeypatch)
    try:
        sink.publish("events", event(1))  # kept in the outbox, not lost
        assert not wait_until(lambda: sink.connected, timeout=3)
        assert sink.health()["pending"] >= 1
    finally:
        sink.close()
    assert "wrong-" + PASSWORD not in caplog.text

"""The dashboard in a real headless Chromium: a device driven by `dms replay --mqtt --pace 1` appears with its
alerts, each on the page within a second of its MQTT message; an alert acknowledged on the page publishes
`cmd/ack` and the device's `cmd/result` is shown. Screenshots of both pages are kept (tests/browser.py)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import jsonschema
import pytest

from edge.config import MqttConfig
from edge.sinks.commands import Command
from edge.sinks.mqtt import MqttSink
from tests import browser
from tests.dashboard import ROOT
from tests.mosquitto import Subscriber, available
from tests.polling import wait_until

pytestmark = [
    pytest.mark.skipif(not available(), reason="needs mosquitto (apt-get install -y mosquitto)"),
    pytest.mark.skipif(browser.available() is not None, reason=str(browser.available())),
]
CMD_ACK_SCHEMA = json.loads((ROOT / "docs" / "schemas" / "cmd_ack.json").read_text())

# Records, in the page, the wall-clock time (ms) at which each alert id first shows in a tile.
WATCH_ALERTS = """
window.seenAlerts = {};
const note = () => document.querySelectorAll('.tile .alerts li .muted').forEach(n => {
  if (!(n.textContent in window.seenAlerts)) window.seenAlerts[n.textContent] = Date.now();
});
new MutationObserver(note).observe(document.body, {childList: true, subtree: true});
"""


def arrivals(sub: Subscriber, topic: str) -> dict[str, float]:
    """Wall-clock time each alert's `start` reached `sub` (wrapping its message callback)."""
    seen: dict[str, float] = {}
    lock = threading.Lock()
    inner = sub.client.on_message

    def on_message(client, userdata, msg):  # noqa: ANN001 (paho's signature)
        if msg.topic == topic:
            payload = json.loads(msg.payload)
            with lock:
                if payload.get("type") == "start":
                    seen.setdefault(payload["id"], time.time())
        inner(client, userdata, msg)

    sub.client.on_message = on_message
    return seen


def test_a_replayed_drive_shows_its_alerts_within_a_second(broker, dashboard, clip, tmp_path):
    from selenium.webdriver.common.by import By

    sub = Subscriber(broker, ["dms/car-b/events"])
    on_mqtt = arrivals(sub, "dms/car-b/events")
    proc = None
    try:
        with browser.chromium() as driver:
            driver.get(dashboard.url + "/")
            assert wait_until(lambda: driver.find_element(By.ID, "link").text == "live"), "no live stream"
            driver.execute_script(WATCH_ALERTS)
            proc = subprocess.Popen(
                [sys.executable, "-m", "edge.cli", "replay", str(clip("WolfgangLanger_Pexels.mp4")), "--mqtt",
                 broker.url, "--device-id", "car-b", "--quiet", "--pace", "1"],
                cwd=ROOT, env={"PATH": "/usr/bin:/bin", "DMS_CACHE_DIR": str(tmp_path / "cache")},
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            assert wait_until(lambda: driver.find_elements(By.CSS_SELECTOR, '[data-device="car-b"] .alerts li'), 30)
            browser.screenshot(driver, "dashboard-fleet.png")
            _, stderr = proc.communicate(timeout=120)
            assert proc.returncode == 0, stderr
            assert wait_until(lambda: len(driver.execute_script("return window.seenAlerts")) >= len(on_mqtt))
            on_page = driver.execute_script("return window.seenAlerts")
            tile = driver.find_element(By.CSS_SELECTOR, '[data-device="car-b"]')
            assert "car-b" in tile.text and "KSS" in tile.text and "SoC" in tile.text
            # the device page: its alert history from the store, one row per alert message
            driver.get(dashboard.url + "/device/car-b")
            rows = lambda: driver.find_elements(By.CSS_SELECTOR, "#history tr")  # noqa: E731
            assert wait_until(lambda: len(rows()) == len(sub.on("dms/car-b/events")), 10)
            browser.screenshot(driver, "dashboard-device-replay.png")
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
        sub.close()
    assert len(on_mqtt) >= 2  # the clip raises microsleep and sleep alerts (test_replay_cli)
    delays = {alert: on_page[alert] / 1000.0 - t for alert, t in on_mqtt.items()}
    print(f"\nMQTT message -> alert on the page: {', '.join(f'{d * 1000:.0f} ms' for d in delays.values())}")
    assert all(d < 1.0 for d in delays.values()), delays


def test_acknowledging_on_the_page_publishes_cmd_ack_and_shows_the_result(broker, dashboard, tmp_path):
    from selenium.webdriver.common.by import By

    acked: list[dict] = []

    def on_command(command: Command) -> None:  # the device's real command path (validation, reply)
        acked.append(command.args)
        command.reply({"acknowledged": 1})

    cfg = MqttConfig(host=broker.host, port=broker.port, outbox_path=tmp_path / "o.sqlite", homeassistant=False)
    device = MqttSink(cfg, "car-9", on_command=on_command)
    sub = Subscriber(broker, ["dms/car-9/cmd/ack"])
    try:
        device.publish("events", {"v": 1, "type": "start", "id": "car-9-sleep-1", "kind": "sleep",
                                  "level": "critical", "started_at": 5.0, "ended_at": None, "t": 5.0,
                                  "acknowledged": False, "evidence": {"closure_s": 3.0}})
        with browser.chromium() as driver:
            driver.get(dashboard.url + "/device/car-9")
            buttons = lambda: driver.find_elements(By.CSS_SELECTOR, ".tile .alerts li button")  # noqa: E731
            assert wait_until(lambda: buttons() and buttons()[0].text == "ack", 20), "no ack button"
            buttons()[0].click()
            assert sub.wait_for(lambda m: bool(m)), "no cmd/ack published"
            results = lambda: driver.find_elements(By.CSS_SELECTOR, "#results li")  # noqa: E731
            shown = lambda: [r.text for r in results()]  # noqa: E731
            assert wait_until(lambda: results() and "ack of car-9-sleep-1" in results()[0].text, 10), shown()
            assert "ok" in results()[0].text and "acknowledged 1" in results()[0].text
            browser.screenshot(driver, "dashboard-device.png")
        payload = json.loads(sub.on("dms/car-9/cmd/ack")[0])
        jsonschema.validate(payload, CMD_ACK_SCHEMA)
        assert payload["id"] == "car-9-sleep-1" and acked == [{"id": "car-9-sleep-1"}]
    finally:
        sub.close()
        device.close()

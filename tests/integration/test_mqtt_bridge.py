"""The fleet bridge as shipped (config/mosquitto-bridge.conf) between two real mosquitto brokers: a replay publishes
to the vehicle's broker, the bridge carries it to the fleet's, and the link between them is cut and restored while
alerts are being raised. The fleet sees every alert event the vehicle's broker saw, once after de-duplication
(docs/mqtt.md), in order; `dms dashboard` on the fleet broker records each of them once, in order; and the
bridge's retained up/down notification follows the link."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests import mosquitto
from tests.dashboard import Dashboard
from tests.polling import wait_until
from tests.tcp_proxy import TcpProxy

ROOT = Path(__file__).resolve().parents[2]
BRIDGE_CONF = ROOT / "config" / "mosquitto-bridge.conf"
DEVICE = "vehicle-0001"  # the id the shipped bridge file is written for
EVENTS = f"dms/{DEVICE}/events"
NOTIFICATION = f"dms/{DEVICE}/bridge"

pytestmark = pytest.mark.skipif(not mosquitto.available(), reason="mosquitto is missing (apt-get install mosquitto)")


def bridge_section(fleet_port: int) -> str:
    """The shipped bridge file, pointed at the test's fleet broker. Changed, and only these: the address; no TLS
    (the fleet broker here listens in plain TCP on loopback); a 1 s reconnect instead of 5-120 s, so the outage
    fits in the clip."""
    text = BRIDGE_CONF.read_text(encoding="utf-8")
    assert re.search(r"^address \S+$", text, re.M) and re.search(r"^restart_timeout .+$", text, re.M)
    text = re.sub(r"^address \S+$", f"address 127.0.0.1:{fleet_port}", text, flags=re.M)
    text = re.sub(r"^restart_timeout .+$", "restart_timeout 1", text, flags=re.M)
    return re.sub(r"^bridge_(cafile|tls_version|insecure) .*\n", "", text, flags=re.M)


def keys(payloads: list[bytes]) -> list[tuple]:
    events = [json.loads(p) for p in payloads]
    return [(e["id"], e["type"], e["t"]) for e in events]


def deduplicated(items: list[tuple]) -> list[tuple]:
    seen: set[tuple] = set()
    return [k for k in items if not (k in seen or seen.add(k))]


def test_bridge_carries_every_event_in_order_across_a_cut_link(clip, tmp_path):
    fleet = mosquitto.Mosquitto(persistence=True)
    fleet.start()
    link = TcpProxy(fleet.port)
    vehicle = mosquitto.Mosquitto(persistence=True, tail="\n" + bridge_section(link.port))
    vehicle.start()
    on_fleet = mosquitto.Subscriber(fleet, [EVENTS, NOTIFICATION, f"dms/{DEVICE}/cmd/#"], client_id="fleet-dashboard",
                                    persistent=True)
    on_vehicle = mosquitto.Subscriber(vehicle, [EVENTS])  # what the device published: the reference
    (tmp_path / "dashboard").mkdir()
    dashboard = Dashboard(fleet, tmp_path / "dashboard")
    proc = None
    try:
        dashboard.start()
        assert on_fleet.wait_for(lambda m: any(t == NOTIFICATION and p == b"1" for t, p, _ in m)), "no bridge"
        env = {"DMS_CACHE_DIR": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin"}
        proc = subprocess.Popen(
            [sys.executable, "-m", "edge.cli", "replay", str(clip("WolfgangLanger_Pexels.mp4")), "--mqtt",
             vehicle.url, "--device-id", DEVICE, "--quiet", "--pace", "2"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        # Cut the link once the fleet has seen the first alert event; restore it once the vehicle has seen two more.
        assert on_fleet.wait_for(lambda m: any(t == EVENTS for t, _, _ in m), 30), "no event reached the fleet"
        link.cut()
        seen_at_cut = len(on_vehicle.on(EVENTS))
        assert on_vehicle.wait_for(lambda m: len([1 for t, _, _ in m if t == EVENTS]) >= seen_at_cut + 2, 30)
        during_cut = len(on_fleet.on(EVENTS))
        link.restore()
        _, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 0, stderr
        reference = keys(on_vehicle.on(EVENTS))
        assert len(reference) >= seen_at_cut + 2
        assert on_fleet.wait_for(lambda m: deduplicated(keys([p for t, p, _ in m if t == EVENTS])) == reference, 30), (
            deduplicated(keys(on_fleet.on(EVENTS))), reference)
        assert during_cut < len(reference), "events published during the cut must arrive only after it"
        stored = lambda: [(e["id"], e["type"], e["t"]) for e in dashboard.stored(DEVICE)]  # noqa: E731
        assert wait_until(lambda: stored() == reference, 30), (stored(), reference)
        assert link.connections >= 2  # the bridge reconnected through the restored link
        notices = on_fleet.on(NOTIFICATION)
        assert notices[0] == b"1" and b"0" in notices[1:] and notices[-1] == b"1"  # up, down at the cut, up again
        # commands come down: an acknowledgement published on the fleet broker reaches the vehicle's, once
        ack = json.dumps({"v": 1, "id": "x", "request_id": "r1"})
        down = mosquitto.Subscriber(vehicle, [f"dms/{DEVICE}/cmd/#"])
        try:
            on_fleet.publish(f"dms/{DEVICE}/cmd/ack", ack)
            assert down.wait_for(lambda m: (f"dms/{DEVICE}/cmd/ack", ack.encode(), False) in m)
            # and the answer goes up; an echo of the command would have gone up the same link before it
            down.publish(f"dms/{DEVICE}/cmd/result", b'{"v": 1, "request_id": "r1", "ok": true}')
            assert on_fleet.wait_for(lambda m: any(t == f"dms/{DEVICE}/cmd/result" for t, _, _ in m))
            assert on_fleet.on(f"dms/{DEVICE}/cmd/ack") == [ack.encode()]  # its own copy only: no echo
        finally:
            down.close()
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
        dashboard.close()
        on_fleet.close()
        on_vehicle.close()
        vehicle.close()
        link.close()
        fleet.close()

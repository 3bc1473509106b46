"""tools/soak.py: its short mode on the real daemon, clip and broker loses no alert across broker outages; its
analysis fails a run that leaks memory, fds or threads, or loses an event."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests import mosquitto

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

from soak import plan_outages  # noqa: E402
from soak_report import Limits, analyse  # noqa: E402

HOUR = 3600.0


def series(hours: float = 2.0, interval: float = 30.0, rss_per_h: float = 0.0, fd_every_h: float = 0.0,
           threads: int = 11) -> list[dict]:
    """A synthetic run: RSS 200 MB after start-up plus `rss_per_h` MB an hour (with a saw of +-1 MB, as the
    allocator's), 15 fds plus one every 1/`fd_every_h` hours."""
    out = []
    for i in range(int(hours * HOUR / interval)):
        t = (i + 1) * interval
        out.append({"t": t, "rss_mb": 200.0 + rss_per_h * t / HOUR + (1.0 if i % 2 else -1.0),
                    "fds": 15 + int(fd_every_h * t / HOUR), "threads": threads, "pending": 0, "outbox_bytes": 4096})
    return out


EVENTS = [(f"soak-1-microsleep-{i}", typ, 100.0 + i) for i in range(50) for typ in ("start", "end")]


def test_a_steady_run_passes():
    report = analyse(series(), EVENTS, EVENTS, 2 * HOUR, 10, 10)
    assert report["verdict"] == "pass", report["checks"]
    assert abs(report["rss_growth_mb_per_h"]) < 0.1
    assert report["events_lost"] == 0 and report["alerts"] == 50


def test_the_verdict_fails_on_a_leak_and_on_a_lost_event():
    leak = analyse(series(rss_per_h=3.0), EVENTS, EVENTS, 2 * HOUR, 10, 10)
    assert leak["verdict"] == "fail" and leak["checks"]["rss_growth"]["ok"] is False
    assert leak["rss_growth_mb_per_h"] == pytest.approx(3.0, abs=0.1)
    fds = analyse(series(fd_every_h=5.0), EVENTS, EVENTS, 2 * HOUR, 10, 10)
    assert fds["verdict"] == "fail" and fds["checks"]["fds_stable"]["ok"] is False
    lost = analyse(series(), EVENTS, EVENTS[:-1], 2 * HOUR, 10, 10)
    assert lost["verdict"] == "fail" and lost["events_lost"] == 1
    assert lost["lost_examples"] == [list(EVENTS[-1])]
    assert analyse(series(), [], [], 2 * HOUR, 10, 10)["checks"]["events_occurred"]["ok"] is False
    assert analyse(series(), EVENTS, EVENTS, 2 * HOUR, 10, 9)["verdict"] == "fail"  # an outage did not happen


def test_a_dip_in_threads_is_no_leak_but_a_rise_is():
    """Fewer threads for a while is no leak (a soak saw 11 drop to 8 in two of 189 samples); more threads that
    stay, or a steady climb, is."""
    dip = series()
    for s in dip[100:102]:
        s["threads"] = 8
    assert analyse(dip, EVENTS, EVENTS, 2 * HOUR, 10, 10)["checks"]["threads_stable"]["ok"] is True
    stays = series()
    for s in stays[100:]:
        s["threads"] = 14
    assert analyse(stays, EVENTS, EVENTS, 2 * HOUR, 10, 10)["checks"]["threads_stable"]["ok"] is False
    climb = series()
    for i, s in enumerate(climb):
        s["threads"] = 11 + i // 60  # one more every 30 min
    check = analyse(climb, EVENTS, EVENTS, 2 * HOUR, 10, 10)["checks"]["threads_stable"]
    assert check["ok"] is False and check["value"] == 3  # 11 after the warm-up, 14 at the end


def test_a_short_run_judges_no_memory_trend():
    """A minute of start-up growth is no leak: too short a fit window is reported, not judged."""
    report = analyse(series(hours=1 / 60, interval=5.0, rss_per_h=300.0), EVENTS, EVENTS, 60.0, 2, 2, Limits())
    assert report["checks"]["rss_growth"]["ok"] is None and report["verdict"] == "pass"


def test_outages_are_spread_repeatable_and_apart():
    plan = plan_outages(7, 2 * HOUR, 10, 5.0, 60.0)
    assert plan == plan_outages(7, 2 * HOUR, 10, 5.0, 60.0) != plan_outages(8, 2 * HOUR, 10, 5.0, 60.0)
    assert len(plan) == 10 and all(5.0 <= o.length_s <= 60.0 for o in plan)
    assert plan[0].start_s >= 0.1 * 2 * HOUR and plan[-1].start_s + plan[-1].length_s <= 0.9 * 2 * HOUR
    assert all(a.start_s + a.length_s < b.start_s for a, b in zip(plan, plan[1:]))
    with pytest.raises(ValueError):
        plan_outages(1, 60.0, 20, 5.0, 60.0)


@pytest.mark.skipif(not mosquitto.available(), reason="mosquitto is missing (apt-get install mosquitto)")
def test_the_short_soak_loses_no_alert_across_broker_outages(clip, tmp_path):
    out = tmp_path / "soak.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "soak.py"), "--short", "--clip", str(clip("WolfgangLanger_Pexels.mp4")),
         "--work-dir", str(tmp_path / "work"), "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=240,
    )
    assert out.exists(), proc.stdout + proc.stderr
    report = json.loads(out.read_text())["report"]
    assert report["outages_done"] == 2
    assert report["events_produced"] > 0  # the looping clip raises alerts, also while the broker is down
    assert report["events_lost"] == 0, report["lost_examples"]
    assert report["checks"]["daemon_exit"]["ok"], (tmp_path / "work" / "daemon.log").read_text()[-3000:]
    assert "events:" in proc.stdout and "verdict:" in proc.stdout

"""A reload keeps what was learned about the driver unless the settings that learned it changed, and says so."""

from __future__ import annotations

import pytest

from edge.config import Config, with_overrides
from tests.scripted import Recorder, Seen, frames, session, timeline

OFF_AXIS = Seen(yaw=12.0, pitch=-4.0)  # a camera mounted to the side: the driver's neutral pose is not zero


def learned_drive(sink: Recorder | None = None):
    drive = session(timeline(20.0, (0.0, 20.0, OFF_AXIS), (10.0, 11.5, Seen(yaw=12.0, pitch=-4.0, eyes_closed=True))),
                    sink=sink)
    for frame in frames(int(11.2 * 30)):  # 10 s of confident frames teach the road-ahead pose; the eyes shut at 10 s
        drive.frame(frame)
    return drive


def neutral(drive) -> tuple[float, float]:
    state = drive.frame(frames(int(11.2 * 30) + 1)[-1]).distraction
    assert state.calibration.status == "calibrated"
    return state.calibration.yaw, state.calibration.pitch


def test_a_reload_that_changes_only_mqtt_keeps_the_road_ahead_pose_and_the_eye_baseline():
    drive = learned_drive()
    before_pose, before_ear = neutral(drive), drive.monitor.eyes.baseline(0)
    assert before_pose == pytest.approx((12.0, -4.0)) and before_ear == pytest.approx(0.30)
    report = drive.reconfigure(with_overrides(Config(), "test", {"mqtt": {"host": "broker.local"}}), "again", 11.3)
    assert report.changed == ("mqtt",) and report.forgotten == () and report.restarted == ()
    assert neutral(drive) == before_pose and drive.monitor.eyes.baseline(0) == before_ear


def test_a_reload_of_the_distraction_settings_relearns_the_pose_only_and_says_so():
    drive = learned_drive()
    before_ear = drive.monitor.eyes.baseline(0)
    cfg = with_overrides(Config(), "test", {"distraction": {"yaw_off_road_deg": 30.0}})
    report = drive.reconfigure(cfg, "again", 11.3)
    assert report.changed == ("distraction",)
    assert "the driver's road-ahead head pose" in report.forgotten
    assert "the driver's open-eye baseline" not in report.forgotten
    state = drive.frame(frames(int(11.2 * 30) + 1)[-1])
    assert state.distraction.calibration.status == "calibrating" and drive.monitor.eyes.baseline(0) == before_ear


def test_a_reload_of_the_alert_settings_ends_the_open_alerts_with_new_ids_after():
    sink = Recorder()
    drive = learned_drive(sink)
    (open_alert,) = drive.monitor.alerts.active()
    assert open_alert.kind == "microsleep"
    report = drive.reconfigure(with_overrides(Config(), "test", {"alerts": {"hold_s": 2.0}}), "again", 11.3)
    assert report.changed == ("alerts",) and "the open alerts (ended)" in report.forgotten
    end = sink.on("events")[-1]
    assert (end["type"], end["id"], end["evidence"]["end_reason"]) == ("end", open_alert.id, "reconfigured")
    state = drive.frame(frames(int(11.2 * 30) + 1)[-1])  # the eyes are still closed: a new alert, a new id
    assert [a.id.startswith("again-microsleep") for a in state.alerts] == [True]


def test_a_reload_without_changes_changes_nothing():
    drive = learned_drive()
    assert drive.reconfigure(Config(), "again", 11.3).changed == ()

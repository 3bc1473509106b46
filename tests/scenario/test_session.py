"""The drive session end to end on synthetic drives: time vectors of face observations at 30 fps, no video and no
models, driven through the session's per-frame step to the events and state it publishes."""

from __future__ import annotations

import pytest

from edge.replay import replay
from tests.scripted import FPS, Recorder, Seen, frames, session, timeline

CLOSED = Seen(eyes_closed=True)


def run(seen: list[Seen], **kw) -> Recorder:
    sink = Recorder()
    replay(frames(len(seen)), session(seen, sink=sink, **kw))
    return sink


def test_eyes_closed_from_2_s_raise_one_microsleep_at_3_s_that_ends_when_they_open():
    sink = run(timeline(8.0, (2.0, 3.5, CLOSED)))
    events = sink.on("events")
    assert [(e["type"], e["kind"], e["t"]) for e in events] == [
        ("start", "microsleep", pytest.approx(3.0)),
        ("update", "microsleep", pytest.approx(4.0)),  # every alerts.update_interval_s while it lasts
        ("end", "microsleep", pytest.approx(4.5)),
    ]
    start, _, end = events
    assert start["t"] == pytest.approx(3.0) and start["started_at"] == pytest.approx(3.0)
    assert start["level"] == "warning" and start["evidence"]["closure_s"] == pytest.approx(1.0)
    assert end["id"] == start["id"] and end["ended_at"] == pytest.approx(3.5)  # when the eyes opened...
    assert end["t"] == pytest.approx(4.5)  # ...reported once they stayed open for alerts.hold_s


def test_eyes_closed_for_3_s_escalate_to_sleep_and_the_state_counts_the_episodes():
    sink = run(timeline(10.0, (2.0, 5.5, CLOSED)))
    starts = [(e["kind"], e["level"], e["t"]) for e in sink.on("events") if e["type"] == "start"]
    assert starts == [("microsleep", "warning", pytest.approx(3.0)), ("sleep", "critical", pytest.approx(5.0))]
    last = sink.on("state")[-1]
    assert last["drowsiness"]["microsleeps"] == 1 and last["drowsiness"]["sleeps"] == 1
    assert last["alerts"] == []  # every alert ended before the end of the drive


def test_a_long_look_away_after_the_road_ahead_pose_is_learned_is_a_long_distraction_at_3_s():
    away = Seen(yaw=40.0)
    sink = run(timeline(16.0, (10.0, 14.0, away)))
    starts = [(e["kind"], e["t"]) for e in sink.on("events") if e["type"] == "start"]
    assert starts == [("long_distraction", pytest.approx(13.0))]
    state = sink.on("state")[-1]
    assert state["distraction"]["calibration"]["status"] == "calibrated" and state["distraction"]["on_road"]


def test_a_driver_who_leaves_the_seat_is_not_visible_after_5_s():
    sink = run(timeline(10.0, (2.0, 10.0, Seen(present=False))))
    starts = [(e["kind"], e["t"]) for e in sink.on("events") if e["type"] == "start"]
    assert starts == [("driver_not_visible", pytest.approx(7.0))]
    ends = [e for e in sink.on("events") if e["type"] == "end"]
    assert [e["evidence"]["end_reason"] for e in ends] == ["end of recording"]  # replay ends what is still open


def test_a_dead_camera_is_monitoring_degraded_never_an_absent_driver():
    sink = Recorder()
    drive = session(timeline(2.0), sink=sink)
    for frame in frames(int(2.0 * FPS)):
        drive.frame(frame)
    for i in range(int(8.0 / 0.05)):  # the daemon's 20 Hz tick while no frame comes
        drive.camera_down(2.0 + i * 0.05, 59)
    kinds = {e["kind"] for e in sink.on("events")}
    assert kinds == {"monitoring_degraded"}
    assert sink.on("events")[0]["evidence"]["reason"] == "camera"


def test_states_go_out_at_state_hz_on_the_drive_clock():
    sink = run(timeline(5.0))
    assert [s["t"] for s in sink.on("state")] == pytest.approx([i * 0.5 for i in range(10)])
    assert all(s["voice"]["reason"] == "off" and s["physio"]["reason"] == "off" for s in sink.on("state"))

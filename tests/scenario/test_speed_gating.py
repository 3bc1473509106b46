"""The vehicle's speed through the drive session: a drive's speed.csv, fed in step with the frames, gates the
alerts. Standing still silences distraction (long distraction, visual time sharing) while moving does not; eye
closures are never silenced; a stale speed counts as moving."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from edge.config import AlertsConfig, Config, ConfigError, SpeedConfig, config_from_dict
from edge.monitor.alerts import AlertManager, Condition
from edge.replay import replay
from edge.session import recorded_modalities
from edge.sources.recording import RecordingError
from edge.sources.speed_replay import read_speed_csv
from edge.stats import StageTimer
from tests.scripted import Recorder, Seen, frames, session, timeline

AWAY = Seen(yaw=40.0)  # head off the road, once the neutral pose is learned (~10 s)
CLOSED = Seen(eyes_closed=True)


def speed_csv(path: Path, rows: list[tuple[float, float]], extra: str = "") -> Path:
    path.write_text("t_s,speed_kmh\n" + "".join(f"{t},{v}\n" for t, v in rows) + extra)
    return path


def drive(seen: list[Seen], csv: Path | None, cfg: Config | None = None) -> Recorder:
    sink = Recorder()
    streams = {"speed": csv} if csv is not None else {}
    replay(frames(len(seen)), session(seen, cfg, sink, recorded_modalities(streams, StageTimer())))
    return sink


def starts(sink: Recorder) -> list[tuple[str, str | None]]:
    return [(e["kind"], e["evidence"].get("reason")) for e in sink.on("events") if e["type"] == "start"]


def every(seconds: float, kmh: float, step: float = 0.5) -> list[tuple[float, float]]:
    return [(i * step, kmh) for i in range(int(seconds / step) + 1)]


LOOK_AWAY = timeline(20.0, (10.0, 18.0, AWAY))


def test_moving_a_long_look_away_raises_distraction_and_unresponsive(tmp_path):
    sink = drive(LOOK_AWAY, speed_csv(tmp_path / "speed.csv", every(20.0, 50.0)))
    assert starts(sink) == [("long_distraction", None), ("unresponsive", "no_return_after_warning")]
    state = sink.on("state")[-1]["speed"]
    assert state["speed_kmh"] == 50.0 and state["motion"] == "moving" and state["source"] == "recording"
    assert state["reason"] is None and 0.0 <= state["age_s"] <= 0.5


def test_standing_still_the_same_look_away_raises_nothing(tmp_path):
    sink = drive(LOOK_AWAY, speed_csv(tmp_path / "speed.csv", every(20.0, 1.0)))
    assert starts(sink) == []
    assert sink.on("state")[-1]["speed"]["motion"] == "standing"


def test_standing_still_eye_closures_are_still_raised(tmp_path):
    sink = drive(timeline(14.0, (2.0, 10.0, CLOSED)), speed_csv(tmp_path / "speed.csv", every(14.0, 0.0)))
    assert [k for k, _ in starts(sink)] == ["microsleep", "sleep", "unresponsive"]
    assert starts(sink)[-1] == ("unresponsive", "eyes_closed")


def test_a_speed_that_stops_coming_goes_stale_and_counts_as_moving(tmp_path):
    # a mount: the road-ahead pose is known from the start, whether or not the standing start taught it
    mounted = config_from_dict({"camera": {"mount": {"preset": "steering_column", "pitch_deg": 0.0}}})
    sink = drive(LOOK_AWAY, speed_csv(tmp_path / "speed.csv", every(5.0, 0.0)), mounted)  # the log ends at 5 s
    assert starts(sink) == [("long_distraction", None), ("unresponsive", "no_return_after_warning")]
    last = sink.on("state")[-1]["speed"]
    assert (last["motion"], last["reason"], last["speed_kmh"]) == ("unknown", "stale", 0.0)


def test_without_a_speed_stream_the_section_is_off_and_nothing_is_gated():
    sink = drive(LOOK_AWAY, None)
    assert starts(sink) == [("long_distraction", None), ("unresponsive", "no_return_after_warning")]
    assert sink.on("state")[0]["speed"] == {"speed_kmh": None, "t": None, "age_s": None, "source": None,
                                            "motion": "unknown", "reason": "off"}


def test_malformed_speed_lines_are_skipped_and_counted_naming_each_line(tmp_path, caplog):
    path = speed_csv(tmp_path / "speed.csv", [(0.0, 10.0), (1.0, 12.0)],
                     "2.0,fast\n3.0\n-1,-5\n4.0,nan\n0.5,20\n5.0,30\n")
    with caplog.at_level(logging.INFO, logger="edge.skips"):
        readings, skipped = read_speed_csv(path)
    assert [(r.t, r.speed_kmh) for r in readings] == [(0.0, 10.0), (1.0, 12.0), (5.0, 30.0)]
    assert skipped is not None and (skipped.count, skipped.lines) == (5, (4, 5, 6, 7, 8))
    assert skipped.detail == "line 4: not a number ('2.0,fast')" and skipped.at_s == (1.0,) * 5
    assert [f"speed.csv:{n}:" in m for n, m in zip(range(4, 9), caplog.messages)] == [True] * 5
    with pytest.raises(RecordingError, match=r"speed\.csv:4: not a number .* \(--strict\)"):
        read_speed_csv(path, strict=True)


def test_alert_manager_standing_silences_distraction_only():
    manager = AlertManager(AlertsConfig(addw_min_speed_kmh=0.0), "t", SpeedConfig(standing_kmh=3.0))
    conds = {"long_distraction": Condition(True), "visual_time_sharing": Condition(True)}
    assert manager.step(conds, 1.0, speed_kmh=2.0, speed_t=1.0) == []  # standing: nothing, ADDW gate or not
    events = manager.step({"unresponsive": Condition(True, {"reason": "no_return_after_warning"})}, 2.0, 2.0, 2.0)
    assert [e.kind for e in events] == ["unresponsive"]
    events = manager.step(conds, 3.0, speed_kmh=2.0, speed_t=0.5)  # 2.5 s old: stale, so moving
    assert [(e.type, e.kind) for e in events if e.type == "start"] == [("start", "long_distraction"),
                                                                        ("start", "visual_time_sharing")]


def test_the_max_age_of_a_speed_moved_to_the_speed_section():
    with pytest.raises(ConfigError, match=r"speed_max_age_s has moved to \[speed\] max_age_s"):
        config_from_dict({"alerts": {"speed_max_age_s": 2.0}})
    with pytest.raises(ConfigError, match="obd_port"):
        config_from_dict({"speed": {"source": "obd"}})

"""The drive report's reading of messages, its numbers and its page (edge/report)."""

import json
import math
import re

import numpy as np
import pytest

from edge.report.html import render
from edge.report.plots import panels_for, timeline_svg
from edge.report.run import ReportInputError, build_run, read_messages
from edge.report.summary import runs_of, summarise


def state(t, present=True, closed_s=0.0, on_road=True, yawns=0, hr=None, stress=None, emotion=True):
    return {"topic": "state", "payload": {
        "v": 1, "t": t,
        "face": {"present": present, "quality": 0.9 if present else 0.0},
        "eyes": {"visible": present, "closed_prob": (0.9 if closed_s else 0.05) if present else None,
                 "closed_s": closed_s, "perclos": 0.1 if t >= 2 else None},
        "mouth": {"mar": 0.2},
        "drowsiness": {"kss": 5 if t >= 2 else None, "yawns": yawns, "blinks": 3, "microsleeps": 1},
        "distraction": {"on_road": on_road if present else None, "yaw_offset": 1.0, "pitch_offset": -2.0},
        "emotion": {"window_mean": {"neutral": 0.7, "anger": 0.3}} if emotion else None,
        "physio": {"hr_bpm": hr}, "voice": {"arousal": None}, "speed": {"speed_kmh": None},
        "stress": {"score": stress},
    }}


def event(type_, id_, kind, level, started, ended=None, ack=False):
    return {"topic": "events", "payload": {"v": 1, "type": type_, "id": id_, "kind": kind, "level": level,
                                           "started_at": started, "ended_at": ended, "acknowledged": ack}}


def messages():
    out = [state(0.5 * i, closed_s=0.5 if 4 <= i <= 6 else 0.0, on_road=not 10 <= i <= 13,
                 present=i != 15, yawns=1 if i >= 8 else 0) for i in range(20)]
    out.insert(5, event("start", "a1", "microsleep", "warning", 2.0))
    out.insert(7, event("update", "a1", "microsleep", "critical", 2.0))
    out.insert(9, event("end", "a1", "microsleep", "critical", 2.0, ended=3.5, ack=True))
    out.append(event("start", "a2", "long_distraction", "warning", 6.0))  # still open at the end
    return out


def test_series_are_nan_where_the_state_had_no_value():
    run = build_run(messages())
    assert len(run.t) == 20 and run.start == 0.0 and run.end == 9.5
    assert math.isnan(run.closed_prob[15]) and run.face[15] == 0.0  # no face: no closure probability
    assert math.isnan(run.on_road[15]) and run.on_road[10] == 0.0 and run.on_road[0] == 1.0
    assert np.isnan(run.perclos[:4]).all() and run.perclos[4] == pytest.approx(0.1)
    assert not run.has(run.hr_bpm) and not run.has(run.stress) and run.has(run.emotion)
    assert run.emotion[0, 0] == pytest.approx(0.7) and math.isnan(run.emotion[0, 1])  # a class the state lacks


def test_alerts_keep_their_highest_level_their_end_and_acknowledgement():
    a1, a2 = build_run(messages()).alerts
    assert (a1.kind, a1.level, a1.start, a1.end, a1.acknowledged) == ("microsleep", "critical", 2.0, 3.5, True)
    assert (a2.kind, a2.level, a2.end) == ("long_distraction", "warning", None)
    assert a2.duration(9.5) == pytest.approx(3.5)


def test_a_late_update_at_a_lower_level_does_not_lower_the_alert():
    run = build_run([state(0.0), event("start", "x", "stress", "critical", 0.0),
                     event("update", "x", "stress", "advisory", 0.0)])
    assert run.alerts[0].level == "critical"


def test_summary_counts_closures_off_road_spans_episodes_and_alerts():
    s = summarise(build_run(messages()))
    assert s.states == 20 and s.face_found_pct == 95.0 and s.eyes_visible_pct == 100.0
    assert s.closures == 1 and s.off_road_spans == 1 and s.off_road_s == pytest.approx(2.0)  # 5.0 .. 7.0 s
    assert s.episodes == {"blinks": 3, "microsleeps": 1, "yawns": 1}
    assert s.coverage_pct["physiology (heart rate)"] == 0.0 and s.coverage_pct["face"] == 95.0
    kinds = {k.kind: k for k in s.alerts}
    assert kinds["microsleep"].levels["critical"] == 1 and kinds["microsleep"].acknowledged == 1
    assert kinds["microsleep"].total_s == pytest.approx(1.5) and kinds["long_distraction"].total_s == 3.5


def test_runs_of():
    assert runs_of(np.array([0, 1, 1, 0, 1], bool)) == [(1, 2), (4, 4)]
    assert runs_of(np.zeros(3, bool)) == []


def test_panels_only_for_what_the_run_has():
    run = build_run(messages())
    assert panels_for(run) == ["eye closure", "PERCLOS and KSS", "head pose against the road ahead",
                               "mouth opening and yawns", "emotion (face, over its window)", "alerts"]
    with_heart = build_run([state(float(t), hr=70.0 + t, stress=0.3, emotion=False) for t in range(5)])
    assert "stress, voice arousal and heart rate" in panels_for(with_heart)
    assert "emotion (face, over its window)" not in panels_for(with_heart) and "alerts" not in panels_for(with_heart)
    with_heart.labelled = [("yawn", 1.0, 2.5)]
    assert panels_for(with_heart)[-1].startswith("labelled events")


def test_the_page_is_self_contained():
    page = render(build_run(messages()), "Drive report: <x>", "a & b")
    assert page.startswith("<!DOCTYPE html>") and "Drive report: &lt;x&gt;" in page and "a &amp; b" in page
    assert page.count("<svg") >= 1 and "microsleep" in page and "long_distraction" in page
    assert "open at the end" in page
    lowered = page.lower()
    for fetches in ("<script", "<link", "src=", "@import", "url(http"):
        assert fetches not in lowered
    # the only addresses: XML namespace names, which a browser never fetches
    addresses = re.findall(r'([\w:-]+)="https?://', lowered)
    assert addresses and all(a.startswith("xmlns") or a == "rdf:resource" for a in addresses), addresses
    assert lowered.count("http") == len(addresses)


def test_timeline_svg_is_the_same_bytes_for_the_same_run():
    run = build_run(messages())
    assert timeline_svg(run) == timeline_svg(run)


def test_a_bad_line_is_named(tmp_path):
    path = tmp_path / "run.jsonl"
    path.write_text(json.dumps(state(0.0)) + "\n\n{not json\n", encoding="utf-8")
    with pytest.raises(ReportInputError, match=r"run.jsonl:3: not a message"):
        read_messages(path)
    path.write_text(json.dumps({"topic": "state", "payload": [1]}) + "\n", encoding="utf-8")
    with pytest.raises(ReportInputError, match=r"run.jsonl:1"):
        read_messages(path)


def test_no_state_message_is_an_error():
    with pytest.raises(ReportInputError, match="no state messages"):
        build_run([event("start", "a", "sleep", "critical", 1.0)], "x.jsonl")

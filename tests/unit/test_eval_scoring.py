"""edge.eval: scoring, labels and detections on hand-made intervals and samples."""

import json

import pytest

from edge.eval.detections import Sample, absences, detect, merge, runs
from edge.eval.labels import ClipLabels, LabelEvent, LabelsError, find_clip, load_labels
from edge.eval.report import clip_json, score_clip
from edge.eval.scoring import (
    AlertRecord,
    Interval,
    LabelledInterval,
    false_alert_rates,
    judge_alerts,
    score_kind,
    total,
)

FPS = 10.0
CLIP = ClipLabels("c.mp4", FPS, 100, ())


def frames(first: int, last: int) -> Interval:
    """Inclusive frames at 10 fps, as labels.py converts them."""
    return CLIP.interval(LabelEvent("yawn", first, last, "high", True))


def test_inclusive_label_frames_cover_their_last_frame_and_not_the_next():
    label = frames(10, 20)
    assert (label.start, label.end) == (1.0, pytest.approx(2.1))
    on_last = Interval(2.0, 2.1)  # a detection of frame 20 alone
    on_next = Interval(2.1, 2.2)  # frame 21
    on_before = Interval(0.9, 1.0)  # frame 9
    assert score_kind("yawn", [label], [on_last], 0.0, 1.0).found == 1
    assert score_kind("yawn", [label], [on_next], 0.0, 1.0).found == 0
    assert score_kind("yawn", [label], [on_before], 0.0, 1.0).found == 0


def test_tolerance_widens_the_label_by_its_edge_uncertainty():
    label = frames(10, 20)
    three_after = Interval(2.3, 2.5)  # frames 23-24: the third frame after the last
    four_after = Interval(2.4, 2.5)
    assert score_kind("yawn", [label], [three_after], 3 / FPS, 1.0).found == 1
    assert score_kind("yawn", [label], [four_after], 3 / FPS, 1.0).found == 0
    assert CLIP.tolerance_s("yawn") == pytest.approx(0.3) and CLIP.tolerance_s("talking") == pytest.approx(1.0)


def test_unmatched_detections_are_false_and_counted_per_hour():
    s = score_kind("eyes_closed", [Interval(1.0, 2.0)], [Interval(1.5, 2.5), Interval(5.0, 6.0), Interval(8, 9)],
                   0.0, 0.5)
    assert (s.labels, s.found, s.detections, s.true_detections) == (1, 1, 3, 1)
    assert s.recall == 1.0 and s.precision == pytest.approx(1 / 3)
    assert s.false_detections == (Interval(5.0, 6.0), Interval(8, 9)) and s.false_per_hour == 4.0
    assert s.outside_s == pytest.approx(0.5 + 1.0 + 1.0)


def test_several_detections_in_one_label_find_it_once_and_are_all_true():
    s = score_kind("yawn", [Interval(1.0, 4.0)], [Interval(1.2, 1.8), Interval(2.5, 3.0)], 0.0, 1.0)
    assert (s.found, s.detections, s.true_detections) == (1, 2, 2)
    assert s.latencies_s == (pytest.approx(0.2),)  # the first detection's start


def test_one_detection_across_two_labels_finds_both_and_latency_can_be_negative():
    s = score_kind("looking_away", [Interval(1, 2), Interval(3, 4)], [Interval(0.5, 3.5)], 0.0, 1.0)
    assert s.found == 2 and s.latencies_s == (-0.5, -2.5) and s.missed == ()


def test_missed_labels_and_no_labels():
    s = score_kind("yawn", [Interval(1, 2)], [], 0.0, 1.0)
    assert s.recall == 0.0 and s.precision is None and s.missed == (Interval(1, 2),)
    s = score_kind("face_absent", [], [Interval(1, 2)], 0.0, 1.0)
    assert s.recall is None and s.precision == 0.0


def test_detections_on_ignored_labels_count_neither_way():
    s = score_kind("eyes_closed", [], [Interval(1, 2)], 0.0, 1.0, ignore=[Interval(1.2, 1.5)])
    assert s.detections == 0 and s.false_detections == ()


def test_totals_add_up_counts_latencies_and_hours():
    a = score_kind("yawn", [Interval(1, 2)], [Interval(1.5, 2)], 0.0, 0.5)
    b = score_kind("yawn", [Interval(1, 2), Interval(5, 6)], [Interval(9, 10)], 0.0, 0.5)
    t = total([a, b])
    assert (t.labels, t.found, t.detections, t.true_detections, t.hours) == (3, 1, 2, 1, 1.0)
    assert t.latencies_s == (0.5,) and t.false_per_hour == 1.0


def alert(kind, t, level="warning", max_level=None):
    return AlertRecord("c.mp4", kind, level, max_level or level, t)


def test_alerts_are_explained_only_by_the_label_kinds_of_their_kind():
    labels = [LabelledInterval("eyes_closed", Interval(1, 3), 0.3), LabelledInterval("talking", Interval(5, 9), 1.0),
              LabelledInterval("yawn", Interval(20, 23), 0.3)]
    verdicts = judge_alerts([alert("microsleep", 2.0), alert("long_distraction", 2.0), alert("microsleep", 3.2),
                             alert("microsleep", 3.4), alert("yawn_less", 6.0), alert("drowsiness", 60.0),
                             alert("drowsiness", 400.0), alert("monitoring_degraded", 2.0, "advisory")],
                            labels, {"drowsiness": 300.0})
    assert [v.explained_by for v in verdicts] == ["eyes_closed", None, "eyes_closed", None, None, "yawn", None, None]
    assert verdicts[4].during == ("talking",) and verdicts[1].during == ("eyes_closed",)


def test_false_alert_rates_by_highest_level():
    verdicts = judge_alerts([alert("long_distraction", 1.0, "warning", "critical"), alert("stress", 2, "advisory"),
                             alert("microsleep", 3.0)], [LabelledInterval("eyes_closed", Interval(2.5, 4), 0.0)])
    rates = false_alert_rates(verdicts, 0.5)
    assert rates["false_alerts"] == 2 and rates["false_per_hour"] == 4.0
    assert (rates["critical_false"], rates["warning_false"], rates["advisory_false"]) == (1, 0, 1)


def sample(t, **kw):
    base = dict(t=t, t_end=t + 0.1, face_present=True, face_usable=True, eyes_visible=True, closure_s=None,
                off_road_s=None)
    return Sample(**{**base, **kw})


def test_runs_keep_those_that_reached_the_minimum_and_start_where_the_product_started():
    # a closure from 1.0 to 2.0 (closure_s 0 at its first frame), then one of 0.5 s
    samples = [sample(i / 10, closure_s=round(i / 10 - 1.0, 3) if 10 <= i <= 20 else
                      round(i / 10 - 3.0, 3) if 30 <= i <= 35 else None) for i in range(40)]
    found = runs(samples, lambda s: s.closure_s, 1.0)
    assert found == (Interval(1.0, pytest.approx(2.1)),)
    # sampled coarsely (a state message at 2 Hz), the start is the sample's time less its duration
    coarse = [sample(0.5, t_end=0.6, closure_s=0.3), sample(1.0, t_end=1.1, closure_s=0.8),
              sample(1.5, t_end=1.6, closure_s=1.3)]
    assert runs(coarse, lambda s: s.closure_s, 1.0) == (Interval(0.2, 1.6),)


def test_absences_are_measured_first_to_last_sample():
    samples = [sample(i / 10, face_usable=not 5 <= i <= 15) for i in range(30)]
    assert absences(samples, 1.0) == (Interval(0.5, pytest.approx(1.6)),)
    assert absences(samples, 1.1) == ()


def test_detect_reports_face_eyes_and_calibration():
    samples = [sample(0.0, face_present=False, face_usable=False, eyes_visible=False),
               sample(0.1, eyes_visible=False, pose_reference="calibrating"), sample(0.2, pose_reference="calibrated"),
               sample(0.3, yawn_start=0.05, mar=0.6), sample(0.4, mar=0.5), sample(0.5, mar=0.1)]
    d = detect(samples)
    assert d.face_found_pct == pytest.approx(500 / 6) and d.eyes_visible_pct == pytest.approx(80.0)
    assert d.calibrated_at == 0.2 and d.judged_from == 0.2 and d.by_kind["yawn"] == (Interval(0.05, 0.5),)
    assert detect([sample(0.0, pose_reference="mount"), sample(0.1, pose_reference="calibrated")]).judged_from == 0.0
    assert merge([Interval(0, 1), Interval(1, 2), Interval(3, 4)]) == (Interval(0, 2), Interval(3, 4))


def write(tmp_path, entries):
    path = tmp_path / "labels.json"
    path.write_text(json.dumps(entries))
    return path


def entry(**kw):
    return {"clip": "a.mp4", "fps": 10, "frames": 100,
            "events": [{"kind": "eyes_closed", "start_frame": 10, "end_frame": 14}], **kw}


def test_labels_load_and_derive_ge_1s_when_absent(tmp_path):
    labels = load_labels(write(tmp_path, [entry()]))
    assert labels["a.mp4"].events[0].ge_1s is False  # 5 frames at 10 fps
    assert find_clip(labels, "a.jsonl") is labels["a.mp4"] and find_clip(labels, "b.mp4") is None


@pytest.mark.parametrize("bad, message", [
    ({"fps": 0}, "entry 1 (b.mp4): 'fps'"),
    ({"frames": "x"}, "'frames'"),
    ({"events": [{"kind": "sneeze", "start_frame": 1, "end_frame": 2}]}, "event 0: 'kind'"),
    ({"events": [{"kind": "yawn", "start_frame": 5, "end_frame": 4}]}, "event 0 (yawn): need 0 <= start_frame"),
    ({"events": [{"kind": "yawn", "start_frame": 5, "end_frame": 100}]}, "< frames (100)"),
    ({"clip": ""}, "'clip'"),
])
def test_malformed_labels_name_the_entry(tmp_path, bad, message):
    with pytest.raises(LabelsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_labels(write(tmp_path, [entry(), entry(**{"clip": "b.mp4", **bad})]))


def test_score_clip_leaves_short_closures_and_gapes_out_and_scores_long_looks_apart():
    events = (LabelEvent("eyes_closed", 10, 14, "high", False), LabelEvent("yawn", 30, 34, "high", True),
              LabelEvent("looking_away", 50, 79, "high", True), LabelEvent("talking", 85, 95, "low", True))
    labels = ClipLabels("c.mp4", FPS, 100, events)
    samples = [sample(i / 10, closure_s=round(i / 10 - 1.0, 3) if 10 <= i <= 21 else None,
                      off_road_s=round(i / 10 - 5.0, 3) if 50 <= i <= 70 else None) for i in range(100)]
    result = score_clip(labels, detect(samples), [alert("long_distraction", 8.8)], "replay", 100, 300.0)
    out = clip_json(result)
    assert out["kinds"]["eyes_closed"]["detections"] == 0  # the closure overlaps a label shorter than 1 s only
    assert out["kinds"]["yawn"]["labels"] == 0  # a 0.5 s gape is not a yawn to find
    assert out["kinds"]["looking_away_2s"]["found"] == 1 and out["kinds"]["looking_away"]["found"] == 1
    assert out["false_alerts"] == 1 and out["false_alerts_during_talking"] == 1


def test_looking_away_judged_counts_only_the_looks_after_head_pose_is_judged():
    events = (LabelEvent("looking_away", 10, 24, "high", True), LabelEvent("looking_away", 60, 79, "high", True))
    labels = ClipLabels("c.mp4", FPS, 100, events)
    samples = [sample(i / 10, pose_reference="calibrating" if i < 40 else "calibrated",
                      off_road_s=round(i / 10 - 6.0, 3) if 60 <= i <= 75 else None) for i in range(100)]
    out = clip_json(score_clip(labels, detect(samples), [], "replay", 100, 300.0))
    assert out["pose_judged_from"] == 4.0 and out["pose_calibrated_at"] == 4.0
    assert (out["kinds"]["looking_away"]["labels"], out["kinds"]["looking_away"]["found"]) == (2, 1)
    assert (out["kinds"]["looking_away_judged"]["labels"], out["kinds"]["looking_away_judged"]["found"]) == (1, 1)
